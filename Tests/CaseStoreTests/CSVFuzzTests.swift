import Foundation
import GRDB
import Testing

@testable import CaseStore

/// Seeded random mutations of a valid labels CSV through `labels import`'s parser and
/// checks: every outcome is either an import or an error that names the file, and a refused
/// file imports nothing. Bounded (a few hundred small files) so it runs in CI in seconds.
@Suite struct CSVFuzzTests {
  static let valid =
    "case,rater,label\n1,ana,Pre-B\n2,\"b, en\",Benign\n\"3\",carl,\"Pro-B\"\r\n4,dora,early-b\n"
  static let alphabet: [String] = [
    ",", "\"", "\n", "\r", "\u{FEFF}", "=", "x", "9", " ", "\u{0}", "\u{202E}", "é",
  ]

  @Test func mutatedLabelCSVsImportOrFailNamingTheFile() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 4)
    var imported = 0
    var refused = 0
    for seed in UInt64(0)..<200 {
      var rng = SeededRandom(seed: seed)
      var scalars = Array(Self.valid.unicodeScalars).map { String($0) }
      for _ in 0..<Int.random(in: 1...5, using: &rng) {
        let i = Int.random(in: 0..<max(1, scalars.count), using: &rng)
        switch Int.random(in: 0..<3, using: &rng) {
        case 0 where !scalars.isEmpty: scalars.remove(at: i)
        case 1: scalars.insert(Self.alphabet.randomElement(using: &rng)!, at: min(i, scalars.count))
        default: if !scalars.isEmpty { scalars[i] = Self.alphabet.randomElement(using: &rng)! }
        }
      }
      let path = dir.sub("labels-\(seed).csv")
      try Data(scalars.joined().utf8).write(to: URL(fileURLWithPath: path))
      let before = try annotationCount(store)
      do {
        let made = try store.importLabels(csvPath: path, session: nil)
        #expect(try annotationCount(store) == before + made.count, "seed \(seed)")
        imported += 1
      } catch {
        let text = String(describing: error)
        #expect(text.contains(path) || text.contains("line"), "seed \(seed): \(text)")
        #expect(try annotationCount(store) == before, "seed \(seed): a refused file imported something")
        refused += 1
      }
    }
    #expect(imported > 0 && refused > 0, "imported \(imported), refused \(refused)")
  }

  @Test func parserRoundTripsWhatTheExportWrites() {
    var rng = SeededRandom(seed: 42)
    for _ in 0..<300 {
      let row = (0..<Int.random(in: 1...5, using: &rng)).map { _ in
        (0..<Int.random(in: 0...6, using: &rng)).map { _ in
          Self.alphabet.filter { $0 != "\u{FEFF}" }.randomElement(using: &rng)!
        }
        .joined()
      }
      let line = row.map(ExportText.csvCell).joined(separator: ",") + "\n"
      let parsed = CSV.parse(line)
      let expected = row.map { ExportText.looksLikeFormula($0) ? "'" + $0 : $0 }
      // A row of one empty cell is an empty line, which the parser skips.
      if row == [""] { continue }
      #expect(parsed == [expected], "\(row.debugDescription)")
    }
  }
}

func annotationCount(_ store: CaseStore) throws -> Int {
  try store.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM annotation") ?? 0 }
}
