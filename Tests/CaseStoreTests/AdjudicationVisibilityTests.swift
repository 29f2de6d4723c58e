import Foundation
import Testing

@testable import CaseStore

/// Issue 18, item 4: after an adjudication the final label shows in the browser (an `adjudicated`
/// flag and filter) and in `cases.csv`, to whoever blinding lets see it. Before, only the JSON
/// dump had it: the browser row had no such field and the CSV export only annotations.
@Suite struct AdjudicationVisibilityTests {
  /// Six cases: 1 agreed by two raters, 2 disputed then adjudicated, 3 disputed, 4 one rater,
  /// 5 and 6 unlabelled (reference labels from import).
  func store(_ dir: TempDir) throws -> CaseStore {
    let store = try makeStore(dir, cases: 6)
    try store.annotate(case: 1, rater: "ana", label: "Pre-B")
    try store.annotate(case: 1, rater: "ben", label: "Pre-B")
    try store.annotate(case: 2, rater: "ana", label: "Benign")
    try store.annotate(case: 2, rater: "ben", label: "Pro-B")
    try store.annotate(case: 3, rater: "ana", label: "Early-B")
    try store.annotate(case: 3, rater: "ben", label: "Pre-B")
    try store.annotate(case: 4, rater: "ana", label: "Pro-B")
    try store.setRole(.adjudicator, for: "lead")
    try store.adjudicate(case: 2, adjudicator: "lead", label: "Early-B", reason: "fine chromatin, nucleoli")
    try store.adjudicate(
      case: 2, adjudicator: "lead", label: "Pro-B", reason: "second look: blasts, scant cytoplasm")
    return store
  }

  @Test func browserFlagsAndFiltersAdjudicatedCases() throws {
    let dir = TempDir()
    let store = try store(dir)
    let page = try store.casePage(CasePageRequest(), viewer: .rater("ana"))
    #expect(page.rows.map(\.adjudicated) == [false, true, false, false, false, false])
    #expect(
      page.rows[1].disagreement == true, "still a disagreement between the raters; A replaces D on screen")
    let only = try store.casePage(
      CasePageRequest(filter: CaseFilter(adjudicated: true)), viewer: .rater("ana"))
    #expect(only.rows.map(\.id) == [2])
    #expect(try store.caseCount(CaseFilter(adjudicated: true), viewer: .rater("ana")) == 1)
    #expect(
      try store.casePage(
        CasePageRequest(filter: CaseFilter(disagreement: true, adjudicated: true)), viewer: .system
      ).rows.map(\.id) == [2])
  }

  @Test func caseDetailCarriesEveryAdjudication() throws {
    let dir = TempDir()
    let store = try store(dir)
    let d = try store.caseDetail(id: 2, viewer: .rater("ben"))
    #expect(d.adjudication?.label == "Pro-B")
    #expect(d.adjudication?.adjudicator == "lead")
    #expect(d.adjudications.map(\.label) == ["Early-B", "Pro-B"])
    #expect(CaseStore.finalLabel(d) == ("Pro-B", "adjudication"))
  }

  @Test func casesCSVHasOneRowPerCaseWithTheFinalLabelAndItsSource() throws {
    let dir = TempDir()
    let store = try store(dir)
    let summary = try store.exportCasesCSV(outDirectory: dir.sub("out"), viewer: .system)
    #expect(summary.cases == 6)
    #expect(summary.raters == ["ana", "ben"])
    let text = try String(contentsOfFile: dir.sub("out/cases.csv"), encoding: .utf8)
    let rows = CSV.parse(text)
    #expect(
      rows[0] == [
        "case_id", "image", "sha256", "reference_label", "model_version", "model_label", "model_probability",
        "rater:ana", "rater:ben", "final_label", "final_source", "adjudicator", "adjudication_reason",
      ])
    #expect(rows.count == 7)
    let byID = Dictionary(uniqueKeysWithValues: rows.dropFirst().map { ($0[0], $0) })
    let reference = { (id: Int64) in try store.caseRecord(id: id, viewer: .system).referenceLabel ?? "" }
    #expect(Array(byID["1"]![7...10]) == ["Pre-B", "Pre-B", "Pre-B", "agreement"])
    #expect(
      Array(byID["2"]![7...12]) == [
        "Benign", "Pro-B", "Pro-B", "adjudication", "lead", "second look: blasts, scant cytoplasm",
      ])
    #expect(Array(byID["3"]![9...10]) == [try reference(3), "reference"])
    #expect(Array(byID["4"]![7...10]) == ["Pro-B", "", try reference(4), "reference"])
    #expect(byID["5"]![3] == (try reference(5)))
    #expect(byID["1"]![1] == "/images/case0.png")
  }

  @Test func blindedRaterSeesNoFinalLabel() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 3)
    try store.annotate(case: 1, rater: "ana", label: "Benign")
    try store.annotate(case: 1, rater: "ben", label: "Pro-B")
    try store.setRole(.adjudicator, for: "lead")
    try store.adjudicate(case: 1, adjudicator: "lead", label: "Pro-B", reason: "blasts")
    try store.createSession(
      name: "s1", raters: ["cat"], cases: .ids([1, 2, 3]), blinded: true, hideModel: false, createdBy: "lead")
    let cat = Viewer.rater("cat", session: "s1")
    let row = try store.casePage(CasePageRequest(), viewer: cat).rows.first { $0.id == 1 }
    #expect(row?.adjudicated == nil)
    #expect(
      try store.casePage(CasePageRequest(filter: CaseFilter(adjudicated: true)), viewer: cat).rows.isEmpty)
    #expect(try store.caseDetail(id: 1, viewer: cat).adjudication == nil)
  }
}
