import Foundation
import Testing

@testable import CaseStore

/// Issue 17 in the store: the browser's possibly-malignant filter and triage's first severity,
/// both on the promoted model's P(malignant) against the screening operating point.
@Suite struct ScreeningTriageTests {
  /// Eight cases; the promoted model's P(malignant) = 1 − P(Benign) per case, by hand:
  /// 1: 0.10, 2: 0.30, 3: 0.40, 4: 0.95, 5: 0.02, 6: 0.35, no prediction for 7 and 8.
  func store(_ dir: TempDir) throws -> CaseStore {
    let store = try makeStore(dir, cases: 8)
    let file = dir.sub("m.bin")
    try Data("m".utf8).write(to: URL(fileURLWithPath: file))
    let v = try store.registerModel(
      file: file, parent: nil, tasks: ["c"], trainedTasks: ["c"], frozenTasks: [])
    try store.promote(version: v.version)
    try store.savePredictions(
      [
        NewPrediction(caseID: 1, probabilities: [0.9, 0.05, 0.03, 0.02]),
        NewPrediction(caseID: 2, probabilities: [0.7, 0.2, 0.05, 0.05]),  // argmax Benign, P(mal) 0.3
        NewPrediction(caseID: 3, probabilities: [0.6, 0.3, 0.05, 0.05]),  // argmax Benign, P(mal) 0.4
        NewPrediction(caseID: 4, probabilities: [0.05, 0.9, 0.03, 0.02]),
        NewPrediction(caseID: 5, probabilities: [0.98, 0.01, 0.005, 0.005]),
        NewPrediction(caseID: 6, probabilities: [0.65, 0.25, 0.05, 0.05]),  // P(mal) 0.35
      ], model: v.version)
    return store
  }

  @Test func possiblyMalignantFilterUsesTheThreshold() throws {
    let dir = TempDir()
    let store = try store(dir)
    func ids(_ t: Double?, viewer: Viewer = .system) throws -> [Int64] {
      var f = CaseFilter()
      f.pMalignantAtLeast = t
      return try store.casePage(CasePageRequest(filter: f), viewer: viewer).rows.map(\.id)
    }
    #expect(try ids(nil) == [1, 2, 3, 4, 5, 6, 7, 8])
    #expect(try ids(0.3) == [2, 3, 4, 6])  // 0.3 itself reaches the threshold
    #expect(try ids(0.36) == [3, 4])
    #expect(try ids(0.01) == [1, 2, 3, 4, 5, 6])  // cases without a prediction never match
    var f = CaseFilter()
    f.pMalignantAtLeast = 0.3
    #expect(try store.caseCount(f, viewer: .system) == 4)
    // Combined with another filter (AND).
    f.predictedLabel = "Benign"
    #expect(try store.casePage(CasePageRequest(filter: f), viewer: .system).rows.map(\.id) == [2, 3, 6])
    // A session that hides the model from its raters: its cases never match for them.
    try store.createSession(
      name: "s", raters: ["ana"], cases: .ids([2, 3]), blinded: true, hideModel: true, createdBy: "lead")
    #expect(try ids(0.3, viewer: .rater("ana", session: "s")).allSatisfy { $0 != 2 && $0 != 3 })
  }

  @Test func possiblyMalignantCaseARaterCalledBenignComesFirst() throws {
    let dir = TempDir()
    let store = try store(dir)
    try store.annotate(case: 2, rater: "ana", label: "Benign")  // P 0.30, model Benign: agrees
    try store.annotate(case: 3, rater: "ana", label: "Benign")  // P 0.40, model Benign: agrees
    try store.annotate(case: 4, rater: "ana", label: "Benign")  // P 0.95, model Early-B: group disagreement
    try store.annotate(case: 5, rater: "ana", label: "Benign")  // P 0.02: below any threshold here
    try store.annotate(case: 6, rater: "ana", label: "Pre-B")  // P 0.35, rated malignant: no miss
    try store.annotate(case: 1, rater: "ana", label: "Early-B")
    try store.annotate(case: 1, rater: "ben", label: "Benign")  // P 0.10: raters disagree

    // Without an operating point: as before (cases 2 and 3 agree with a confident model; 6, 1
    // and 4 are benign against malignant, least confident first: 0.65, then 0.9 by case id).
    let before = try store.triageQueue(viewer: .system, confidenceBelow: 0.5)
    #expect(before.map(\.caseID) == [6, 1, 4])
    #expect(!before.contains { $0.severity == .possiblyMalignantCalledBenign })

    // At 0.3: cases 4 (0.95), 3 (0.40) and 2 (0.30) were called Benign by a rater and reach
    // the threshold: they come first, highest P(malignant) first; then the rest as before.
    let q = try store.triageQueue(viewer: .system, confidenceBelow: 0.5, possiblyMalignantFrom: 0.3)
    #expect(q.map(\.caseID) == [4, 3, 2, 6, 1])
    #expect(q.prefix(3).allSatisfy { $0.severity == .possiblyMalignantCalledBenign })
    #expect(q[3].severity == .groupDisagreement)
    #expect(q[0].pMalignant.map { abs($0 - 0.95) < 1e-9 } == true)
    // A higher threshold keeps only case 4 ahead.
    let high = try store.triageQueue(viewer: .system, confidenceBelow: 0.5, possiblyMalignantFrom: 0.5)
    #expect(high.map(\.caseID) == [4, 6, 1])
    #expect(high.map(\.severity) == [.possiblyMalignantCalledBenign, .groupDisagreement, .groupDisagreement])
  }
}
