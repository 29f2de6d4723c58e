import CaseStore
import Foundation
import Imaging
import Testing

@testable import Review

/// A square nucleus mask on a BCCD-sized (640 × 480) image.
func squareMask(x: Int, y: Int, size: Int, width: Int = 640, height: Int = 480) -> Mask {
  var m = Mask(width: width, height: height)
  for yy in y..<min(height, y + size) { for xx in x..<min(width, x + size) { m[xx, yy] = 255 } }
  return m
}

/// A workspace of the 20 BCCD smears with a promoted model v1 that predicted every case
/// (with a nucleus mask), and session `s` over cases 1-8 for alice and bob, created by lead:
/// blinded and model-hidden unless told otherwise. Each rater works in their own `CaseStore`
/// (as in their own process).
final class SessionWorkspace {
  let dir: URL
  let path: String
  /// The lead's store (the test's own view of the database).
  let store: CaseStore
  /// Probabilities per case in all4 order, and the model's masks.
  var probabilities: [Int64: [Double]] = [:]

  init(blinded: Bool = true, hideModel: Bool = true, raters: [String] = ["alice", "bob"]) throws {
    let (_, store, dir) = try makeApp()
    self.dir = dir
    path = store.workspace.directory
    self.store = store
    let file = dir.appendingPathComponent("model.bin").path
    try Data("weights".utf8).write(to: URL(fileURLWithPath: file))
    let v = try store.registerModel(
      file: file, parent: nil, tasks: ["c", "s"], trainedTasks: ["c", "s"], frozenTasks: [])
    var predictions: [NewPrediction] = []
    for id in Int64(1)...20 {
      // A fixed, varied pattern: the top class cycles, its probability 0.45-0.9.
      let top = Int(id % 4)
      let p = 0.45 + Double(id % 10) * 0.05
      var probs = [Double](repeating: (1 - p) / 3, count: 4)
      probs[top] = p
      probabilities[id] = probs
      predictions.append(
        NewPrediction(
          caseID: id, probabilities: probs, mask: squareMask(x: 100 + Int(id) * 5, y: 100, size: 60)))
    }
    try store.savePredictions(predictions, model: v.version)
    try store.promote(version: v.version)
    try store.createSession(
      name: "s", raters: raters, cases: .ids(Array(1...8)), blinded: blinded, hideModel: hideModel,
      createdBy: "lead")
  }

  deinit { try? FileManager.default.removeItem(at: dir) }

  /// The review app of `rater` on its own connection to the workspace.
  func app(_ rater: String, session: String? = "s", rows: Int = 40, columns: Int = 120, graphics: Bool = true)
    throws
    -> ReviewApp
  {
    let own = try Workspace.open(path: path)
    let app = try ReviewApp(
      store: own, rater: rater, session: session, rows: rows, columns: columns, graphics: graphics)
    app.begin()
    return app
  }

  /// A rater's own store (another process).
  func storeFor() throws -> CaseStore { try Workspace.open(path: path) }
}

/// Checks, event by event, that nothing the blinding hides ever reaches `update`: while `me`
/// has not labelled a session case, no other rater's annotation, no prediction (with
/// hide-model) and nothing derived from them arrives for it.
final class BlindingWitness {
  let me: String
  let session: String
  let hideModel: Bool
  private(set) var labelledByMe: Set<Int64>
  private(set) var checked = 0
  private(set) var violations: [String] = []

  init(me: String, session: String, hideModel: Bool, labelled: Set<Int64> = []) {
    self.me = me
    self.session = session
    self.hideModel = hideModel
    labelledByMe = labelled
  }

  func attach(to app: ReviewApp) { app.eventObserver = { [unowned self] in self.observe($0) } }

  func hidden(_ c: Int64) -> Bool { c <= 8 && !labelledByMe.contains(c) }

  func observe(_ e: AppEvent) {
    checked += 1
    func fail(_ what: String) { violations.append(what) }
    switch e {
    case .annotated(let a):
      if a.rater == me && a.session == session && a.label != nil { labelledByMe.insert(a.caseID) }
    case .pageLoaded(let page, _):
      for r in page.rows where hidden(r.id) {
        if r.disagreement != nil || r.labelCount != nil { fail("page row \(r.id) shows others' labels") }
        if hideModel && (r.predictedLabel != nil || r.confidence != nil) {
          fail("page row \(r.id) shows a prediction")
        }
      }
    case .caseLoaded(let d, let history):
      checkDetail(d, fail)
      if hidden(d.record.id) && history.contains(where: { $0.rater != me }) {
        fail("history of \(d.record.id)")
      }
    case .maskLoaded(let id, _, let model, let reference, _, _, _):
      if hidden(id) && hideModel && model != nil { fail("model mask of \(id) in the editor") }
      if hidden(id) && reference != nil { fail("reference mask of \(id) in the editor") }
    case .sessions(let s):
      switch s {
      case .dashboardLoaded(let r, _):
        // Another rater's labels count only on cases I labelled.
        for (i, rater) in r.labels.raters.enumerated() where rater != me {
          if r.labels.ratingsPerRater[i] > labelledByMe.count {
            fail("dashboard counts \(rater)'s hidden labels")
          }
        }
        if let m = r.model, hideModel, m.n > labelledByMe.count { fail("dashboard uses hidden predictions") }
      case .overlayMasksLoaded(let id, let masks):
        if hidden(id) && masks.contains(where: { $0.owner != "mine" && !(!hideModel && $0.owner == "model") })
        {
          fail("overlay masks of \(id)")
        }
      case .triageLoaded(let items, _):
        for i in items where hidden(i.caseID) && !i.labels.isEmpty { fail("triage shows \(i.caseID)") }
      case .adjudicationLoaded(let c):
        checkDetail(c.detail, fail)
        if hidden(c.detail.record.id) && c.raterMasks.keys.contains(where: { $0 != me }) {
          fail("adjudication masks")
        }
      default: break
      }
    default: break
    }
  }

  private func checkDetail(_ d: CaseDetail, _ fail: (String) -> Void) {
    let id = d.record.id
    guard hidden(id) else { return }
    if d.current.contains(where: { $0.rater != me }) { fail("case \(id) shows another rater's annotation") }
    if d.adjudication != nil || d.referenceMaskID != nil || d.record.referenceLabel != nil {
      fail("case \(id) shows an adjudication or reference")
    }
    if hideModel && d.prediction != nil { fail("case \(id) shows the prediction") }
    if !d.blinded { fail("case \(id) is not marked blinded") }
  }
}
