import Foundation
import Testing

@testable import CaseStore

/// Issue 15, item 10, at the store: the browser neither shows nor searches the path of a case
/// the viewer is blinded for (paths carry the class: `images/lymphocyte/025.png`).
@Suite struct BlindedPathStoreTests {
  @Test func aBlindedCasesPathIsNeitherShownNorSearchable() throws {
    let dir = TempDir()
    let store = try Workspace.create(at: dir.sub("ws"), schema: .wbc5)
    var rng = SeededRandom(seed: 4)
    let rows = ["lymphocyte", "lymphocyte", "neutrophil"].enumerated().map { i, c in
      let sha = fakeSHA(&rng)
      return CaseStore.NewCase(
        path: "images/\(c)/\(i).png", relative: true, sha256: sha, format: "png", width: 8, height: 8,
        referenceLabel: c, split: Split.of(sha256Hex: sha), mask: nil, maskSource: nil)
    }
    _ = try store.insertCases(rows)
    try store.createSession(
      name: "s", raters: ["ana", "ben"], cases: .ids([1, 2]), blinded: true, hideModel: false,
      createdBy: "lead")
    let ana = Viewer.rater("ana", session: "s")
    let search = CasePageRequest(filter: CaseFilter(search: "/lymphocyte/"))
    #expect(try store.casePage(search, viewer: ana).rows.isEmpty, "a blinded case matched a path search")
    #expect(try store.casePage(search, viewer: .system).rows.map(\.id) == [1, 2])
    // Browsing the whole workspace (outside the session view) blinds the same cases.
    let page = try store.casePage(CasePageRequest(), viewer: .rater("ana")).rows
    #expect(page.map(\.path) == ["case-1", "case-2", "images/neutrophil/2.png"])
    let record = try store.caseRecord(id: 1, viewer: ana)
    #expect(record.path == "case-1" && record.pathHidden && record.referenceLabel == nil)
    let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
    #expect(!json.contains("lymphocyte"), "\(json)")
    #expect(try store.cases(viewer: ana).map(\.path) == ["case-1", "case-2", "images/neutrophil/2.png"])
    // After labelling case 1 in the session, ana sees and finds its path.
    try store.annotate(case: 1, rater: "ana", label: "neutrophil", session: "s")
    #expect(try store.casePage(search, viewer: ana).rows.map(\.id) == [1])
    #expect(try store.caseRecord(id: 1, viewer: ana).path == "images/lymphocyte/0.png")
  }
}
