import Agreement
import Foundation
import Testing

@testable import blastview

/// The ratings CSV reader: RFC 4180 details, and errors that name the line.
@Suite struct RatingsCSVTests {
  func parse(_ text: String) throws -> RatingsCSV {
    try RatingsCSV(bytes: Array(text.utf8), name: "r.csv")
  }

  func message(_ text: String) -> String {
    do {
      _ = try parse(text)
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  @Test func quotedFieldsCRLFBOMAndExtraColumns() throws {
    let text =
      "\u{FEFF}Label,Item,when,Rater\r\n"
      + "Benign,\"case, 1\",2024-01-01,ann\r\n"
      + "\r\n"
      + " Pro-B , case2 ,x, \"bob \"\"B\"\"\"\r\n"
      + "\"Pre-B\",\"multi\nline\",y,cy"
    let csv = try parse(text)
    #expect(csv.rows.count == 3)
    #expect(csv.rows[0] == LongRating(item: "case, 1", rater: "ann", label: "Benign"))
    // Unquoted fields are trimmed; quoted ones keep their spaces.
    #expect(csv.rows[1] == LongRating(item: "case2", rater: "bob \"B\"", label: "Pro-B"))
    #expect(csv.rows[2] == LongRating(item: "multi\nline", rater: "cy", label: "Pre-B"))
    #expect(csv.lines == [2, 4, 5])
  }

  @Test func errorsNameTheLine() {
    #expect(
      message("item,rater,label\na,b,Benign\na,b\n")
        == "r.csv line 3: expected 3 fields like the header, found 2")
    #expect(message("item,rater,label\na,b,\n").hasPrefix("r.csv line 2: empty label"))
    #expect(message("item,rater,label\na,b,\"Benign\n") == "r.csv line 2: a quoted field is never closed")
    #expect(message("item,rater,label\na,b\"x,c\n").hasPrefix("r.csv line 2: a double quote inside"))
    #expect(message("item,rater,label\na,\"b\"x,c\n").hasPrefix("r.csv line 2: text after a closing quote"))
    #expect(
      message("item,who,label\n").hasPrefix(
        "r.csv line 1: the header must name the columns item (or case), rater and label; missing rater"))
    #expect(
      message("item,case,rater,label\n").hasPrefix("r.csv line 1: the header names the item column twice"))
    #expect(message("") == "r.csv: is empty; expected a header line item,rater,label")
  }

  @Test func caseIsAnAliasOfItem() throws {
    let csv = try parse("Case,rater,label\n12,ann,Benign\n")
    #expect(csv.rows == [LongRating(item: "12", rater: "ann", label: "Benign")])
  }

  @Test func invalidUTF8AndTerminalEscapesInMessages() {
    #expect(throws: (any Error).self) { try RatingsCSV(bytes: [0x69, 0xFF, 0x0A], name: "bad.csv") }
    let m = message("item,rater,label\n\u{1B}[2J,b\n")
    #expect(!m.contains("\u{1B}"))
  }
}

@Suite struct JSONOutputTests {
  @Test func jsonEscapesControlCharactersAndKeepsDoubles() {
    let j = JSONOutput.object([
      ("s", .string("a\u{1B}[31m\"\\\n\u{9B}")), ("x", .double(0.1)), ("n", .number(.nan)),
      ("i", .interval(Interval(-0.5, 1))),
    ])
    let text = j.render()
    #expect(text.contains(#""a\u001b[31m\"\\\n\u009b""#))
    #expect(text.contains(#""x": 0.1"#))
    #expect(text.contains(#""n": null"#))
    #expect(text.contains(#""i": [-0.5, 1.0]"#))
    // Doubles print in a form that parses back to the same bits.
    var rng = Xoshiro256StarStar(seed: 1)
    for _ in 0..<1000 {
      let x = Double(bitPattern: rng.next() >> 2) * (rng.below(2) == 0 ? 1 : -1)
      guard x.isFinite else { continue }
      #expect(Double(JSONOutput.double(x).render()) == x)
    }
    let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    #expect(parsed?["s"] as? String == "a\u{1B}[31m\"\\\n\u{9B}")
  }

  /// Issue 15 item 15: C1 controls, bidi overrides and invisible format characters are escaped
  /// as \uXXXX (a tag character above the BMP as its surrogate pair), and parse back exactly.
  @Test func jsonEscapesC1BidiAndFormatCharacters() throws {
    let hostile = "photo\u{202E}gpj.exe\u{85}\u{200B}\u{2066}x\u{2069}\u{FEFF}\u{2028}\u{E0041}"
    let text = JSONOutput.object([("name", .string(hostile))]).render()
    #expect(text.contains(#"photo\u202egpj.exe\u0085\u200b\u2066x\u2069\ufeff\u2028\udb40\udc41"#))
    #expect(!text.unicodeScalars.contains { $0.value >= 0x80 })
    let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    #expect(parsed?["name"] as? String == hostile)
    // Plain non-ASCII text stays as it is.
    #expect(JSONOutput.quote("Früh-B 好") == "\"Früh-B 好\"")
  }

  /// An `Encodable` goes through the same writer: keys sorted, strings escaped, numbers kept.
  @Test func encodableValuesUseTheSameWriter() throws {
    struct Report: Encodable {
      let zeta: String
      let alpha: [Double]
      let count: Int
      let flag: Bool
      let missing: String?
    }
    let value = Report(zeta: "a\u{202E}b", alpha: [0.1, 2.5], count: 3, flag: true, missing: nil)
    let text = try JSONOutput(encoding: value).render()
    #expect(
      text == "{\n  \"alpha\": [0.1, 2.5],\n  \"count\": 3,\n  \"flag\": true,\n  \"zeta\": \"a\\u202eb\"\n}")
  }
}

@Suite struct WeightsFileTests {
  let all4 = ["Benign", "Early-B", "Pre-B", "Pro-B"]

  func write(_ text: String) throws -> String {
    let path = NSTemporaryDirectory() + "weights-\(UUID().uuidString).csv"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func namedRowsAndColumnsInAnyOrder() throws {
    let path = try write(
      """
      ,Pro-B,Benign,Early-B,Pre-B
      Benign,0,1,0,0
      Pro-B,1,0,0.5,0
      Pre-B,0,0,0.5,1
      Early-B,0.5,0,1,0.5
      """)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let w = try WeightsFile.read(path, categories: all4)
    let expected = try AgreementWeights.clinical(categories: all4).renamed("custom")
    #expect(w == expected)
  }

  @Test func badFilesNameTheProblem() throws {
    let path = try write(",Benign,Early-B\nBenign,1,0\n")
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(throws: (any Error).self) { try WeightsFile.read(path, categories: all4) }
    let p2 = try write(",A,B\nA,1,x\nB,0,1\n")
    defer { try? FileManager.default.removeItem(atPath: p2) }
    do {
      _ = try WeightsFile.read(p2, categories: ["A", "B"])
      Issue.record("expected an error")
    } catch {
      #expect("\(error)" == "\(p2) line 2: 'x' is not a number")
    }
  }
}

extension AgreementWeights {
  fileprivate func renamed(_ name: String) throws -> AgreementWeights {
    try AgreementWeights(name: name, k: k, values: values)
  }
}
