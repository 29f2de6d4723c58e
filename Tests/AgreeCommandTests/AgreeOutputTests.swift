import Agreement
import Foundation
import Testing

@testable import blastview

@Suite struct AgreeOutputTests {
  @Test func jsonEscapesControlCharactersAndKeepsDoubles() {
    let j = AgreeJSON.object([
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
      #expect(Double(AgreeJSON.double(x).render()) == x)
    }
    let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    #expect(parsed?["s"] as? String == "a\u{1B}[31m\"\\\n\u{9B}")
  }

  @Test func safeTextReplacesControlAndBidiCharacters() {
    #expect(AgreeOutput.safe("ok\u{1B}]0;t\u{07}\u{202E}x\u{85}") == "ok?]0;t??x?")
    #expect(AgreeOutput.safe("Früh-B 好") == "Früh-B 好")
  }
}
