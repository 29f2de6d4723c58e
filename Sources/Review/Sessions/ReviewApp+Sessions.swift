import CaseStore
import Foundation
import Imaging
import Workflows

extension ReviewApp {
  /// The workspace setting holding triage's default low-confidence threshold.
  public static let triageConfidenceSetting = "triage_confidence_below"

  /// The message for a screen that runs only on an embedded workspace for now (a shared
  /// workspace's models are trained and run by its service role, not by a rater's app).
  static func embeddedOnly(_ what: String) -> String {
    "\(what): not available on a shared (PostgreSQL) workspace yet"
  }

  /// Runs the effects of sessions, triage, adjudication and overlays against the store. The
  /// store applies blinding to everything read here, so hidden data never reaches `update`.
  func runSession(_ effect: SessionEffect) throws(StoreError) -> [AppEvent] {
    switch effect {
    case .loadSession:
      guard let session else { return [] }
      return [.sessions(.sessionLoaded(try store.session(named: session)))]
    case .pollChanges:
      return [.sessions(.changesPolled(version: try store.externalChangeVersion()))]
    case .loadDashboard:
      guard let session else { return [] }
      // Either backend: the same report as `agree --session`, blinded by the store (on
      // PostgreSQL by the server's functions).
      let categories = store.labelSchema.classNames
      let options = SessionAgreementOptions(
        weights: SessionAgreementOptions.dashboardWeights(categories: categories))
      do {
        let report = try SessionAgreementReport.compute(
          store: store, session: session, viewer: Viewer(rater: rater), options: options, cache: maskCache)
        return [.sessions(.dashboardLoaded(report, at: Date()))]
      } catch {
        return [.failed("agreement: \(error.description)")]
      }
    case .closeSession:
      guard let session else { return [] }
      try store.closeSession(session, by: rater)
      return [.sessions(.sessionClosed(try store.session(named: session)))]
    case .loadTriage(let threshold):
      let role = try store.reviewRole(of: rater)
      let items = try store.triageQueue(
        viewer: Viewer(rater: rater), confidenceBelow: threshold, limit: 100_000, session: session,
        possiblyMalignantFrom: screeningPoint()?.threshold)
      return [.sessions(.roleLoaded(role)), .sessions(.triageLoaded(items, confidenceBelow: threshold))]
    case .loadAdjudication(let caseID):
      // The role as the store has it now (a lead may have changed it while the app runs).
      let role = try store.reviewRole(of: rater)
      guard role == .adjudicator else { return [.sessions(.adjudicationRefused(role))] }
      let detail = try store.caseDetail(id: caseID, viewer: viewer)
      var masks: [String: Mask] = [:]
      for a in detail.current { if let m = a.maskID { masks[a.rater] = try store.storedMask(id: m) } }
      let model = try detail.prediction?.maskID.map { (m: Int64) throws(StoreError) in
        try store.storedMask(id: m)
      }
      return [
        .sessions(.roleLoaded(role)),
        .sessions(.adjudicationLoaded(AdjudicationCase(detail: detail, raterMasks: masks, modelMask: model))),
      ]
    case .adjudicate(let caseID, let label, let mask, let reason):
      let a = try store.adjudicate(
        case: caseID, adjudicator: rater, label: label, mask: mask, reason: reason, session: session)
      // (On a shared workspace the database itself refuses anyone without the adjudicator role.)
      return [.sessions(.adjudicated(a))]
    case .loadSessionList:
      return [.sessions(.sessionListLoaded(try store.sessions()))]
    case .switchSession(let name):
      let info = try store.session(named: name)
      let role = try store.reviewRole(of: rater)
      // As `review --session` does: raters, its creator and adjudicators may work in it.
      if !info.raters.contains(rater), info.createdBy != rater, role != .adjudicator {
        throw StoreError.raterNotInSession(rater: rater, session: info.name)
      }
      session = info.name
      viewer = Viewer.rater(rater, session: info.name)
      let advance = try store.setting(ReviewApp.advanceSetting(inSession: true)).map { $0 == "on" } ?? true
      return [.sessions(.sessionSwitched(info, advance: advance))]
    case .loadOverlayMasks(let caseID):
      let detail = try store.caseDetail(id: caseID, viewer: viewer)
      var masks: [OverlayMask] = []
      for a in detail.current {
        guard let m = a.maskID else { continue }
        masks.append(
          OverlayMask(
            owner: a.rater == rater ? "mine" : "rater:" + a.rater, maskID: m,
            mask: try store.storedMask(id: m)))
      }
      if let m = detail.prediction?.maskID {
        masks.append(OverlayMask(owner: "model", maskID: m, mask: try store.storedMask(id: m)))
      }
      return [.sessions(.overlayMasksLoaded(caseID: caseID, masks: masks))]
    }
  }
}
