import Foundation
import Testing

@testable import CaseStore

/// Seeded random mutations of a valid custom schema file through `LabelSchema.load`: every
/// outcome is a schema that passes its own validation (so it can be used) or an
/// `invalidLabelSchema` error that names the file; never a crash. Bounded (a few hundred small
/// files) so it runs in CI in about a second.
@Suite struct LabelSchemaFuzzTests {
  static let valid = """
    { "name": "myeloid3", "groups": ["normal", "abnormal"],
      "classes": [
        {"name": "Normal", "key": "1", "letter": "N", "group": "normal", "aliases": ["norm"]},
        {"name": "Blast", "key": "2", "letter": "B", "group": "abnormal"},
        {"name": "Promyelocyte", "key": "3", "letter": "P", "group": "abnormal"} ] }
    """
  static let alphabet: [String] = [
    "{", "}", "[", "]", ",", ":", "\"", "\\", "1", "q", "m", "?", "x", " ", "\n", "\u{0}", "\u{1B}",
    "\u{202E}", "\u{200B}", "а", "é", "\u{FEFF}", "null", "\"key\"", "1e999",
  ]

  @Test func mutatedSchemaFilesLoadOrFailNamingTheFile() throws {
    let dir = TempDir()
    var loaded = 0
    var refused = 0
    for seed in UInt64(0)..<300 {
      var rng = SeededRandom(seed: seed)
      var scalars = Array(Self.valid.unicodeScalars).map { String($0) }
      for _ in 0..<Int.random(in: 1...4, using: &rng) {
        let i = Int.random(in: 0..<max(1, scalars.count), using: &rng)
        switch Int.random(in: 0..<3, using: &rng) {
        case 0 where !scalars.isEmpty: scalars.remove(at: i)
        case 1: scalars.insert(Self.alphabet.randomElement(using: &rng)!, at: min(i, scalars.count))
        default: if !scalars.isEmpty { scalars[i] = Self.alphabet.randomElement(using: &rng)! }
        }
      }
      let path = dir.sub("schema-\(seed).json")
      try Data(scalars.joined().utf8).write(to: URL(fileURLWithPath: path))
      do {
        let schema = try LabelSchema.load(path: path)
        // What loads is usable: it passes the same validation again, and keys stay unique.
        try schema.validate(source: path)
        #expect(Set(schema.classes.map(\.key)).count == schema.classes.count, "seed \(seed)")
        loaded += 1
      } catch {
        guard case .invalidLabelSchema(let named, _) = error else {
          Issue.record("seed \(seed): unexpected error \(error)")
          continue
        }
        #expect(named == path, "seed \(seed)")
        refused += 1
      }
    }
    // The mutations reach both outcomes (the test exercises the parser, not only its front door).
    #expect(loaded > 0 && refused > 0, "loaded \(loaded), refused \(refused)")
  }
}
