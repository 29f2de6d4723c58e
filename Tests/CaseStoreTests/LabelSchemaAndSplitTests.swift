import Foundation
import Testing

@testable import CaseStore

@Suite struct LabelSchemaTests {
  @Test func all4ResolvesFolderNamesAndAliases() {
    let s = LabelSchema.all4
    let cases: [(String, String)] = [
      ("Benign", "Benign"), ("benign", "Benign"), ("hematogones", "Benign"),
      ("Early", "Early-B"), ("Early-B", "Early-B"), ("early_b", "Early-B"), ("early_pre_b", "Early-B"),
      ("EARLY PRE-B", "Early-B"), ("[Malignant] early Pre-B", "Early-B"),
      ("Pre", "Pre-B"), ("pre-b", "Pre-B"), ("Pre_B", "Pre-B"), ("[Malignant] Pre-B", "Pre-B"),
      ("Pro", "Pro-B"), ("PRO-B", "Pro-B"), ("prob", "Pro-B"), ("[Malignant] Pro-B", "Pro-B"),
    ]
    for (text, expected) in cases { #expect(s.resolve(text)?.name == expected, "\(text)") }
    for bad in ["Original", "Segmented", "malignant", "", "B", "pre-pro"] {
      #expect(s.resolve(bad) == nil, "\(bad)")
    }
    #expect(s.classes.map(\.letter) == ["B", "E", "P", "R"])
    #expect(s.classes.map(\.key) == ["1", "2", "3", "4"])
    #expect(s.groups == ["Benign", "Malignant"])
    #expect(s.group(of: "Pro-B") == "Malignant")
  }

  @Test func wbc5IsFlat() {
    let s = LabelSchema.wbc5
    #expect(s.classNames == ["neutrophil", "lymphocyte", "monocyte", "eosinophil", "basophil"])
    #expect(!s.isHierarchical)
    #expect(s.resolve("Lymphocytes")?.name == "lymphocyte")
    #expect(s.resolve("EOS")?.name == "eosinophil")
  }

  @Test func customSchemaFileLoadsAndBadOnesAreRefusedWithReasons() throws {
    let dir = TempDir()
    let good = dir.sub("myeloid.json")
    try """
    {"name": "myeloid3", "classes": [
      {"name": "Normal", "key": "1", "letter": "N", "group": "normal", "aliases": ["norm"]},
      {"name": "Blast", "key": "2", "letter": "B", "group": "abnormal"},
      {"name": "Promyelocyte", "key": "3", "letter": "P", "group": "abnormal"}]}
    """.write(toFile: good, atomically: true, encoding: .utf8)
    let s = try LabelSchema.named(good)
    #expect(s.name == "myeloid3")
    #expect(s.groups == ["normal", "abnormal"])
    #expect(s.resolve("norm")?.name == "Normal")

    func refused(_ json: String, _ fragment: String) {
      let p = dir.sub("bad-\(UInt32.random(in: 0...UInt32.max)).json")
      try! json.write(toFile: p, atomically: true, encoding: .utf8)
      do {
        _ = try LabelSchema.load(path: p)
        Issue.record("accepted: \(json)")
      } catch {
        #expect(error.description.contains(p) && error.description.contains(fragment), "\(error.description)")
      }
    }
    refused(#"{"classes": [{"name": "A", "key": "1", "letter": "A"}]}"#, "at least two")
    refused(
      #"{"classes": [{"name": "A", "key": "1", "letter": "A"}, {"name": "B", "key": "1", "letter": "B"}]}"#,
      "used twice")
    refused(
      #"{"classes": [{"name": "A", "key": "12", "letter": "A"}, {"name": "B", "key": "2", "letter": "B"}]}"#,
      "one character")
    refused(
      #"{"classes": [{"name": "A\u001b[2J", "key": "1", "letter": "A"}, {"name": "B", "key": "2", "letter": "B"}]}"#,
      "control")
    refused(
      #"{"classes": [{"name": "A", "key": "1", "letter": "A", "group": "g"}, {"name": "B", "key": "2", "letter": "B"}]}"#,
      "every class")
    refused(
      #"{"classes": [{"name": "A", "key": "1", "letter": "A", "aliases": ["b"]}, {"name": "B", "key": "2", "letter": "C"}]}"#,
      "another class")
    refused("not json", "not a valid schema JSON")
    refused(#"{"classes": [{"name": "A", "letter": "A"}]}"#, "missing \"key\"")
    #expect(throws: StoreError.self) { try LabelSchema.named(dir.sub("missing.json")) }
  }
}

@Suite struct SplitTests {
  struct Fixture: Decodable {
    struct Case: Decodable {
      var content: String?
      var sha256: String
      var split: String
    }
    struct Other: Decodable {
      var seed: String
      var cases: [Case]
    }
    var seed: String
    var cases: [Case]
    var other_seed: Other
  }

  @Test func matchesTheIndependentPythonReference() throws {
    let url = Bundle.module.url(forResource: "split", withExtension: "json", subdirectory: "Fixtures")!
    let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    #expect(f.seed == Split.defaultSeed)
    for c in f.cases {
      #expect(Digest.sha256Hex(Array(c.content!.utf8)) == c.sha256)
      #expect(Split.of(sha256Hex: c.sha256).rawValue == c.split, "\(c.sha256)")
    }
    for c in f.other_seed.cases {
      #expect(Split.of(sha256Hex: c.sha256, seed: f.other_seed.seed).rawValue == c.split)
    }
  }

  @Test func isAbout80_10_10() {
    var rng = SeededRandom(seed: 7)
    var counts: [Split: Int] = [:]
    for _ in 0..<20_000 { counts[Split.of(sha256Hex: fakeSHA(&rng)), default: 0] += 1 }
    // Binomial standard deviation at n = 20,000 is under 0.6 percentage points.
    #expect(abs(Double(counts[.train]!) / 20_000 - 0.8) < 0.02)
    #expect(abs(Double(counts[.val]!) / 20_000 - 0.1) < 0.015)
    #expect(abs(Double(counts[.test]!) / 20_000 - 0.1) < 0.015)
  }
}
