import CaseStore
import Foundation
import Imaging
import Testing
import Workflows

/// The review app's agreement dashboard (`SessionAgreementReport`) read through either
/// backend: the same labels, blind labels, revisions, masks and blinding give the same report.
@Suite(.serialized) struct DashboardContractTests {
  /// A blinded session over the fixture's four cases: Ana labels all four; Ben labels three,
  /// draws a mask on the first as Ana does, and revises one label after seeing hers.
  /// Returns Ben's view before his revision and the creator's view at the end.
  func scenario(_ backend: Backend) throws -> (ben: SessionAgreementReport, lead: SessionAgreementReport) {
    let f = try ContractFixture(backend)
    try f.store(f.lead).createSession(
      name: "s1", raters: [f.ana, f.ben], cases: .all, blinded: true, hideModel: false, createdBy: f.lead)
    let ana = try f.reviewStore(f.ana)
    let ben = try f.reviewStore(f.ben)
    let c = f.cases
    for (i, l) in ["Pre-B", "Benign", "Pro-B", "Early-B"].enumerated() {
      try ana.annotate(case: c[i], rater: f.ana, label: l, mask: nil, session: "s1", clear: [], note: nil)
    }
    for (i, l) in ["Pre-B", "Pre-B", "Pro-B"].enumerated() {
      try ben.annotate(case: c[i], rater: f.ben, label: l, mask: nil, session: "s1", clear: [], note: nil)
    }
    let r = try ana.caseRecord(id: c[0], viewer: .rater(f.ana))
    var a = Mask(width: r.width, height: r.height)
    var b = Mask(width: r.width, height: r.height)
    for y in 10..<30 { for x in 10..<30 { a.values[y * r.width + x] = 255 } }
    for y in 15..<35 { for x in 15..<35 { b.values[y * r.width + x] = 255 } }
    try ana.annotate(case: c[0], rater: f.ana, label: nil, mask: a, session: "s1", clear: [], note: nil)
    try ben.annotate(case: c[0], rater: f.ben, label: nil, mask: b, session: "s1", clear: [], note: nil)
    let options = SessionAgreementOptions(masks: true, model: true)
    let benView = try SessionAgreementReport.compute(
      store: ben, session: "s1", viewer: .rater(f.ben), options: options)
    try ben.annotate(
      case: c[1], rater: f.ben, label: "Benign", mask: nil, session: "s1", clear: [], note: nil)
    let leadView = try SessionAgreementReport.compute(
      store: try f.reviewStore(f.lead), session: "s1", viewer: .rater(f.lead), options: options)
    return (benView, leadView)
  }

  @Test(arguments: Backend.all) func dashboardCountsBlindLabelsRevisionsAndMasks(_ backend: Backend) throws {
    let (ben, lead) = try scenario(backend)
    let (f_ana, f_ben) = ("bvana", "bvben")
    // Ben, before Ana's fourth case was his to see: three cases, not four.
    #expect(ben.visibleCases == 3 && ben.readAs == "bvben")
    #expect(lead.visibleCases == 4)
    // The statistics count Ben's blind Pre-B on the second case; his revision is listed apart.
    #expect(lead.labels.raters == [f_ana, f_ben] && lead.labels.ratingsPerRater == [4, 3])
    #expect(
      lead.revisions.map { "\($0.rater) \($0.blindLabel)→\($0.currentLabel ?? "-")" } == [
        "bvben Pre-B→Benign"
      ])
    // One pair of raters, one case where both drew a mask: 20×20 squares overlapping 15×15.
    let pair = try #require(lead.masks.first)
    #expect(lead.masks.count == 1 && pair.cases.count == 1)
    let overlap = try #require(pair.cases.first?.agreement)
    #expect(overlap.areaA == 400 && overlap.areaB == 400 && overlap.intersection == 225)
    #expect(lead.model?.modelVersion == nil)
  }

  @Test(.enabled(if: PGTestCluster.shouldRun)) func bothBackendsGiveTheSameReport() throws {
    let sqlite = try scenario(.sqlite)
    let postgres = try scenario(.postgres)
    #expect(sqlite.lead.labels == postgres.lead.labels)
    #expect(sqlite.lead.revisions == postgres.lead.revisions)
    #expect(sqlite.lead.masks.map(\.cases.count) == postgres.lead.masks.map(\.cases.count))
    #expect(
      sqlite.lead.masks.first?.cases.first?.agreement == postgres.lead.masks.first?.cases.first?.agreement)
    #expect(sqlite.lead.model == postgres.lead.model)
    #expect(sqlite.ben.labels == postgres.ben.labels && sqlite.ben.visibleCases == postgres.ben.visibleCases)
  }
}
