import Foundation
import Terminal
import Testing

/// The CLI's one JSON writer: escaping, numbers, and `Encodable` values through the same path.
@Suite struct JSONOutputTests {
  @Test func jsonEscapesControlCharactersAndKeepsDoubles() {
    let j = JSONOutput.object([
      ("s", .string("a\u{1B}[31m\"\\\n\u{9B}")), ("x", .double(0.1)), ("n", .number(.nan)),
      ("i", .array([.number(-0.5), .number(1)])),
    ])
    let text = j.render()
    #expect(text.contains(#""a\u001b[31m\"\\\n\u009b""#))
    #expect(text.contains(#""x": 0.1"#))
    #expect(text.contains(#""n": null"#))
    #expect(text.contains(#""i": [-0.5, 1.0]"#))
    // Doubles print in a form that parses back to the same bits.
    var state: UInt64 = 1  // splitmix64: a fixed stream of bit patterns
    func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    for _ in 0..<1000 {
      let x = Double(bitPattern: next() >> 2) * (next() & 1 == 0 ? 1 : -1)
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

  /// Reports assembled from several `Encodable` parts (`eval --json`, `audit --json`) are merged
  /// as `JSONOutput` values. They were merged through `JSONSerialization`, whose parser on Linux
  /// reads 0.003732621669769287 as 0.003732621669769286: the screening threshold `eval`
  /// printed was then not the one the checkpoint stores.
  @Test func mergedReportsKeepEveryDoubleAndSortTheirKeys() throws {
    struct Report: Encodable {
      let threshold: Double
      let model: String
    }
    struct Context: Encodable {
      let model: String
      let images: Int
    }
    let x = 0.003732621669769287
    let merged = JSONOutput.merging([
      try JSONOutput(encoding: Report(threshold: x, model: "from the report")),
      try JSONOutput(encoding: Context(model: "from the context", images: 48)),
      .object([("extra", .array([.double(x)]))]), .string("not an object: skipped"),
    ])
    #expect(
      merged.render()
        == "{\n  \"extra\": [0.003732621669769287],\n  \"images\": 48,\n  \"model\": \"from the context\",\n"
        + "  \"threshold\": 0.003732621669769287\n}")
    guard case .object(let members) = merged,
      case .double(let back)? = members.first(where: { $0.0 == "threshold" })?.1
    else {
      Issue.record("not an object with a double threshold: \(merged)")
      return
    }
    #expect(back.bitPattern == x.bitPattern)
  }
}
