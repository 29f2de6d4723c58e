import Foundation
import GRDB
import Testing

@testable import CaseStore

@Suite struct AnnotationTests {
  @Test func annotationsChainAndCarryFieldsForward() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 2)
    let a1 = try store.annotate(case: 1, rater: "ana", label: "early_pre_b")
    #expect(a1.label == "Early-B" && a1.maskID == nil && a1.supersedes == nil && a1.changed == .label)
    let m = squareMask(8, 8, x: 2, y: 2, size: 3)
    let a2 = try store.annotate(case: 1, rater: "ana", mask: m)
    #expect(a2.label == "Early-B" && a2.maskID != nil && a2.supersedes == a1.id && a2.changed == .mask)
    #expect(try store.mask(id: a2.maskID!) == m)
    let a3 = try store.annotate(case: 1, rater: "ana", label: "Pro-B")
    #expect(a3.label == "Pro-B" && a3.maskID == a2.maskID && a3.supersedes == a2.id)
    let a4 = try store.annotate(case: 1, rater: "ana", clear: .mask)
    #expect(a4.label == "Pro-B" && a4.maskID == nil && a4.changed == .mask)
    let b1 = try store.annotate(case: 1, rater: "ben", label: "Benign", note: "looks reactive")
    #expect(b1.supersedes == nil)

    #expect(try store.history(case: 1, viewer: .system) == [a1, a2, a3, a4, b1])
    let current = try store.currentAnnotations(case: 1, viewer: .system)
    #expect(current == [a4, b1])
    // The same mask twice is stored once.
    let a5 = try store.annotate(case: 1, rater: "ana", mask: m)
    #expect(a5.maskID == a2.maskID)
    let counts = try store.correctionCounts(after: 0)
    #expect(counts.labels == 3 && counts.masks == 3)
  }

  @Test func badInputIsRefusedWithATypedError() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 1)
    #expect(throws: StoreError.unknownLabel("Mega-B", valid: LabelSchema.all4.classNames)) {
      try store.annotate(case: 1, rater: "ana", label: "Mega-B")
    }
    #expect(throws: StoreError.unknownCase("99")) {
      try store.annotate(case: 99, rater: "ana", label: "Pre-B")
    }
    #expect(throws: StoreError.nothingToRecord) { try store.annotate(case: 1, rater: "ana") }
    #expect(throws: StoreError.maskSizeMismatch(caseID: 1, expected: "8×8", got: "4×4")) {
      try store.annotate(case: 1, rater: "ana", mask: squareMask(4, 4, x: 0, y: 0, size: 2))
    }
    #expect(throws: StoreError.self) { try store.annotate(case: 1, rater: "evil\u{1b}[2J", label: "Pre-B") }
    #expect(throws: StoreError.unknownSession("nope")) {
      try store.annotate(case: 1, rater: "ana", label: "Pre-B", session: "nope")
    }
    #expect(try store.history(case: 1, viewer: .system).isEmpty)
  }

  @Test func historyCannotBeRewrittenEvenWithRawSQL() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 1)
    let a1 = try store.annotate(case: 1, rater: "ana", label: "Pre-B")
    let a2 = try store.annotate(
      case: 1, rater: "ana", label: "Pro-B", mask: squareMask(8, 8, x: 0, y: 0, size: 2))
    let attempts = [
      "UPDATE annotation SET label = 'Benign' WHERE id = \(a1.id)",
      "DELETE FROM annotation WHERE id = \(a2.id)",
      "DELETE FROM annotation",
      // A forged row that forks history (supersedes an old annotation, not the current one).
      """
      INSERT INTO annotation (case_id, rater_id, label, changed, supersedes, created_at)
      VALUES (1, (SELECT id FROM rater WHERE name = 'ana'), 'Benign', 1, \(a1.id), 'x')
      """,
      // A forged row that claims to be the first.
      """
      INSERT INTO annotation (case_id, rater_id, label, changed, supersedes, created_at)
      VALUES (1, (SELECT id FROM rater WHERE name = 'ana'), 'Benign', 1, NULL, 'x')
      """,
      "UPDATE \"case\" SET split = 'test'",
      "DELETE FROM \"case\"",
      "UPDATE mask SET png = x'00'",
    ]
    for sql in attempts {
      #expect(throws: (any Error).self, "\(sql)") { try store.pool.write { db in try db.execute(sql: sql) } }
    }
    #expect(try store.history(case: 1, viewer: .system) == [a1, a2])
  }

  @Test func resolvesCasesByIdPathAndSHAPrefix() throws {
    let dir = TempDir()
    let store = try Workspace.create(at: dir.sub("ws"), imageRoot: dir.sub("images"))
    let sha1 = String(repeating: "ab", count: 32)
    let sha2 = "abcdef" + String(repeating: "0", count: 58)
    let id1 = try store.addCase(path: dir.sub("images/Pre/x.png"), sha256: sha1, width: 4, height: 4)
    let id2 = try store.addCase(path: "/elsewhere/y.png", sha256: sha2, width: 4, height: 4)
    #expect(try store.caseRecord(id: id1, viewer: .system).path == "Pre/x.png")
    #expect(try store.caseRecord(id: id1, viewer: .system).imagePath == dir.sub("images/Pre/x.png"))
    #expect(try store.caseRecord(id: id2, viewer: .system).path == "/elsewhere/y.png")
    #expect(try store.resolveCase("\(id2)") == id2)
    #expect(try store.resolveCase("#\(id1)") == id1)
    #expect(try store.resolveCase("Pre/x.png") == id1)
    #expect(try store.resolveCase(dir.sub("images/Pre/x.png")) == id1)
    #expect(try store.resolveCase("/elsewhere/y.png") == id2)
    #expect(try store.resolveCase("abababab") == id1)
    #expect(try store.resolveCase("ABCDEF0") == id2)
    let id3 = try store.addCase(
      path: "/z.png", sha256: "ababab" + String(repeating: "1", count: 58), width: 4, height: 4)
    #expect(throws: StoreError.ambiguousCase("ababab", matches: [id1, id3])) {
      _ = try store.resolveCase("ababab")
    }
    #expect(throws: StoreError.unknownCase("abab")) { _ = try store.resolveCase("abab") }
    #expect(throws: StoreError.unknownCase("zzz")) { _ = try store.resolveCase("zzz") }
  }
}

/// Issue 15, item 11, at the store: two handles of one workspace, the same rater.
@Suite struct MaskEditMergeTests {
  @Test func aStaleSaveIsMergedThreeWayAndNeverDropsTheOtherSave() throws {
    let dir = TempDir()
    let a = try makeStore(dir, cases: 1)
    let b = try Workspace.open(path: a.workspace.directory)
    let start = squareMask(8, 8, x: 0, y: 0, size: 2)
    let first = try a.saveMaskEdit(
      case: 1, rater: "ana", mask: start, base: MaskEditBase(annotationID: nil, mask: nil))
    #expect(!first.merged)
    let base = MaskEditBase(annotationID: first.annotation.id, mask: start)
    // Window A erases the square's top-left pixel and adds a pixel at (6, 6).
    var editA = start
    editA[0, 0] = 0
    editA[6, 6] = 255
    let savedA = try a.saveMaskEdit(case: 1, rater: "ana", mask: editA, base: base)
    #expect(!savedA.merged && savedA.mask == editA)
    // Window B, still on the first version, adds a pixel at (4, 4) and saves its whole mask.
    var editB = start
    editB[4, 4] = 255
    let savedB = try b.saveMaskEdit(case: 1, rater: "ana", mask: editB, base: base)
    #expect(savedB.merged)
    var expected = editA
    expected[4, 4] = 255
    #expect(savedB.mask == expected)
    #expect(
      try a.mask(id: try #require(try a.caseDetail(id: 1, viewer: .rater("ana")).mine?.maskID)) == expected)
    // A save on the current version is not merged; a label saved meanwhile is kept.
    try a.annotate(case: 1, rater: "ana", label: "Benign")
    let current = try #require(try b.caseDetail(id: 1, viewer: .rater("ana")).mine)
    #expect(current.label == "Benign")
    let again = try b.saveMaskEdit(
      case: 1, rater: "ana", mask: start,
      base: MaskEditBase(annotationID: savedB.annotation.id, mask: expected))
    #expect(!again.merged && again.mask == start && again.annotation.label == "Benign")
  }
}
