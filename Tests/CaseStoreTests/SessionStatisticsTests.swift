import Foundation
import Testing

@testable import CaseStore

/// What the agreement dashboard and session triage read from the store, and the blinding
/// those reads keep.
@Suite struct SessionStatisticsTests {
  /// 6 cases; a promoted model predicting every case; a blinded, model-hidden session over
  /// cases 1-4 for ana and ben, created by lead.
  func workspace(_ dir: TempDir) throws -> CaseStore {
    let store = try makeStore(dir, cases: 6)
    let file = dir.sub("m.bin")
    try Data("m".utf8).write(to: URL(fileURLWithPath: file))
    let v = try store.registerModel(
      file: file, parent: nil, tasks: ["c"], trainedTasks: ["c"], frozenTasks: [])
    try store.promote(version: v.version)
    // Benign, Early-B, Pre-B, Pro-B; case 4 is unsure (0.4).
    try store.savePredictions(
      [
        NewPrediction(caseID: 1, probabilities: [0.9, 0.05, 0.05, 0]),
        NewPrediction(caseID: 2, probabilities: [0.1, 0.8, 0.1, 0]),
        NewPrediction(caseID: 3, probabilities: [0.1, 0.1, 0.7, 0.1]),
        NewPrediction(caseID: 4, probabilities: [0.3, 0.4, 0.2, 0.1]),
        NewPrediction(caseID: 5, probabilities: [0.2, 0.2, 0.2, 0.4]),
        NewPrediction(caseID: 6, probabilities: [0.25, 0.25, 0.25, 0.25]),
      ], model: v.version)
    try store.createSession(
      name: "s", raters: ["ana", "ben"], cases: .ids([1, 2, 3, 4]), blinded: true, hideModel: true,
      createdBy: "lead")
    return store
  }

  @Test func theCreatorAndAdjudicatorsMayReadASessionButNotLabelInIt() throws {
    let dir = TempDir()
    let store = try workspace(dir)
    let page = try store.casePage(CasePageRequest(sort: .sessionQueue), viewer: .rater("lead", session: "s"))
    #expect(page.rows.map(\.id) == [1, 2, 3, 4])
    #expect(throws: StoreError.raterNotInSession(rater: "lead", session: "s")) {
      try store.annotate(case: 1, rater: "lead", label: "Benign", session: "s")
    }
    #expect(throws: StoreError.raterNotInSession(rater: "carl", session: "s")) {
      _ = try store.casePage(CasePageRequest(), viewer: .rater("carl", session: "s"))
    }
    // An adjudicator may read it too (to adjudicate its disagreements), not label in it.
    try store.setRole(.adjudicator, for: "carl")
    #expect(try store.casePage(CasePageRequest(), viewer: .rater("carl", session: "s")).rows.count == 4)
    #expect(throws: StoreError.raterNotInSession(rater: "carl", session: "s")) {
      try store.annotate(case: 1, rater: "carl", label: "Benign", session: "s")
    }
  }

  @Test func predictionsAndAdjudicationsStayHiddenUntilTheViewerLabelled() throws {
    let dir = TempDir()
    let store = try workspace(dir)
    try store.annotate(case: 1, rater: "ana", label: "Benign", session: "s")
    try store.annotate(case: 1, rater: "ben", label: "Early-B", session: "s")
    try store.setRole(.adjudicator, for: "lead")
    try store.adjudicate(
      case: 1, adjudicator: "lead", label: "Benign", reason: "mature chromatin", session: "s")
    try store.adjudicate(case: 2, adjudicator: "lead", label: "Pre-B", reason: "blasts", session: "s")

    let ana = try store.sessionPredictions(session: "s", viewer: .rater("ana"))
    #expect(ana.modelVersion == 1 && ana.labels == [1: "Benign"] && ana.hidden == 3)
    let lead = try store.sessionPredictions(session: "s", viewer: .rater("lead"))
    #expect(lead.labels == [1: "Benign", 2: "Early-B", 3: "Pre-B", 4: "Early-B"] && lead.hidden == 0)
    #expect(try store.sessionAdjudications(session: "s", viewer: .rater("ana")) == [1: "Benign"])
    #expect(try store.sessionAdjudications(session: "s", viewer: .system) == [1: "Benign", 2: "Pre-B"])
    try store.closeSession("s", by: "lead")
    #expect(try store.sessionPredictions(session: "s", viewer: .rater("ana")).hidden == 0)
  }

  @Test func sessionTriageTakesTheSessionsCasesAndLabelsOnly() throws {
    let dir = TempDir()
    let store = try workspace(dir)
    // Outside the session: ana and ben disagree on case 2 and 5; they do not count in it.
    try store.annotate(case: 2, rater: "ana", label: "Benign")
    try store.annotate(case: 2, rater: "ben", label: "Pro-B")
    try store.annotate(case: 5, rater: "ana", label: "Benign")
    try store.annotate(case: 5, rater: "ben", label: "Pro-B")
    // In the session: case 3 a subtype disagreement, case 1 agreed with the model.
    for (c, a, b) in [(1, "Benign", "Benign"), (3, "Pre-B", "Pro-B")] {
      try store.annotate(case: Int64(c), rater: "ana", label: a, session: "s")
      try store.annotate(case: Int64(c), rater: "ben", label: b, session: "s")
    }
    let lead = try store.triageQueue(viewer: .rater("lead"), confidenceBelow: 0.5, session: "s")
    #expect(lead.map(\.caseID) == [3, 4])
    #expect(lead[0].labels == ["ana": "Pre-B", "ben": "Pro-B"] && lead[0].ratersDisagree)
    #expect(lead[1].severity == .lowConfidence && lead[1].labels.isEmpty)
    // The whole workspace: current labels wherever they were made.
    let all = try store.triageQueue(viewer: .system, confidenceBelow: 0.5)
    #expect(all.map(\.caseID) == [5, 2, 3, 6, 4])
    // ana has labelled 1 and 3 only: 4's prediction is hidden from her, so it is not low
    // confidence to her; 2 is blinded.
    let ana = try store.triageQueue(viewer: .rater("ana"), confidenceBelow: 0.5, session: "s")
    #expect(ana.map(\.caseID) == [3])
  }
}
