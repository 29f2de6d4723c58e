import Foundation
import Testing

@testable import Agreement

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

  /// The reader quotes the file as it is (the CLI sanitises what it prints: see
  /// `AgreeEndToEndTests`); the message still names the file and line.
  @Test func invalidUTF8AndTerminalEscapesInMessages() {
    #expect(throws: RatingsFileError("bad.csv", "is not UTF-8 text")) {
      try RatingsCSV(bytes: [0x69, 0xFF, 0x0A], name: "bad.csv")
    }
    #expect(
      message("item,rater,label\n\u{1B}[2J,b\n") == "r.csv line 2: expected 3 fields like the header, found 2"
    )
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
