import Foundation
import GRDB

/// What a session's agreement dashboard reads besides labels and masks: the promoted model's
/// predictions and the adjudicated labels of the session's cases, both as the viewer may see
/// them, in one query each (a session can hold every case of a large workspace).
public struct SessionPredictions: Sendable, Equatable {
  /// The promoted model, nil when none is promoted.
  public var modelVersion: Int64?
  /// Predicted label per session case with a visible prediction.
  public var labels: [Int64: String]
  /// Session cases whose prediction the viewer may not see yet (`--hide-model`).
  public var hidden: Int
}

extension CaseStore {
  /// The promoted model's predicted label of every case of `session`, as the viewer may see
  /// them (under `--hide-model` none for a case until the viewer labelled it).
  public func sessionPredictions(session: String, viewer: Viewer) throws(StoreError) -> SessionPredictions {
    try read { db in
      let sid = try CaseStore.sessionID(db, session)
      let vid = try CaseStore.viewerRaterID(db, viewer)
      let model = try Int64.fetchOne(
        db, sql: "SELECT model_version FROM model_promotion ORDER BY id DESC LIMIT 1")
      let hidden = vid == nil ? "0" : CaseStore.hiddenModelSQL(viewer: String(vid!), caseExpr: "sc.case_id")
      var labels: [Int64: String] = [:]
      var hiddenCount = 0
      for r in try Row.fetchAll(
        db,
        sql: """
          SELECT sc.case_id, cs.pred_label, \(hidden) AS hidden FROM session_case sc
          JOIN case_status cs ON cs.case_id = sc.case_id
          WHERE sc.session_id = ? AND cs.pred_label IS NOT NULL
          """, arguments: [sid])
      {
        if r["hidden"] as Bool {
          hiddenCount += 1
        } else {
          labels[r["case_id"]] = r["pred_label"]
        }
      }
      return SessionPredictions(modelVersion: model, labels: labels, hidden: hiddenCount)
    }
  }

  /// The final (newest adjudicated) label of every adjudicated case of `session`, left out
  /// for the cases on which the viewer is blinded (an adjudication is another rater's work).
  public func sessionAdjudications(session: String, viewer: Viewer) throws(StoreError) -> [Int64: String] {
    try read { db in
      let sid = try CaseStore.sessionID(db, session)
      let vid = try CaseStore.viewerRaterID(db, viewer)
      let hidden =
        vid == nil ? "0" : CaseStore.hiddenAnnotationsSQL(viewer: String(vid!), caseExpr: "sc.case_id")
      var out: [Int64: String] = [:]
      for r in try Row.fetchAll(
        db,
        sql: """
          SELECT sc.case_id, j.label FROM session_case sc
          JOIN adjudication j ON j.id = (SELECT max(id) FROM adjudication WHERE case_id = sc.case_id)
          WHERE sc.session_id = ? AND NOT \(hidden)
          """, arguments: [sid])
      {
        out[r["case_id"]] = r["label"]
      }
      return out
    }
  }
}
