import Foundation
import GRDB

/// A rater's label revisions on one case of a blinded session: the label given blind (the
/// one that counts for agreement) and what they changed it to after seeing the others.
public struct LabelRevision: Sendable, Equatable, Codable, Hashable {
  public var caseID: Int64
  public var rater: String
  /// The first label the rater gave in the session (while blinded for the case).
  public var blindLabel: String
  /// The rater's current label in the session (nil when they cleared it).
  public var currentLabel: String?
  /// How many label changes the rater made in the session after the blind label.
  public var revisions: Int
}

/// Peek and revise (issue 15, item 9). In a blinded session a rater's first label of a case
/// is given blind: recording it is what lifts their blinding (`annotation_derive`), so every
/// later label in the session was made after seeing the other raters' labels, the reference
/// label and the adjudications. Agreement must be measured on the blind labels, or a rater
/// who relabels to match makes the kappa perfect. The later labels stay in history and are
/// reported as revisions. In an unblinded session nothing is hidden, so the current label
/// counts.
extension CaseStore {
  /// The labels that count for agreement in `session`, one per (case, rater), as the viewer
  /// may see them (the same visibility as `currentLabels(session:viewer:)`): in a blinded
  /// session the blind label, otherwise the current one.
  public func agreementLabels(session: String, viewer: Viewer) throws(StoreError) -> [RaterLabel] {
    try read { db in
      let sid = try CaseStore.sessionID(db, session)
      let blinded =
        try Bool.fetchOne(db, sql: "SELECT blinded FROM session WHERE id = ?", arguments: [sid]) ?? false
      guard blinded else {
        return try CaseStore.currentSessionLabels(db, sessionID: sid, viewer: viewer)
      }
      let vid = try CaseStore.viewerRaterID(db, viewer)
      return try Row.fetchAll(
        db,
        sql: """
          SELECT a.case_id, r.name, a.label FROM annotation a JOIN rater r ON r.id = a.rater_id
          WHERE a.id IN (SELECT min(id) FROM annotation WHERE session_id = ? AND label IS NOT NULL
                         GROUP BY case_id, rater_id)
            AND (? IS NULL OR a.rater_id = ? OR NOT \(CaseStore.hiddenAnnotationsSQL(viewer: "?", caseExpr: "a.case_id")))
          ORDER BY a.case_id, r.name
          """, arguments: [sid, vid, vid, vid]
      ).map { RaterLabel(caseID: $0[0], rater: $0[1], label: $0[2]) }
    }
  }

  /// Every (case, rater) of a blinded session whose label was changed after the blind one,
  /// as the viewer may see them; empty for an unblinded session.
  public func labelRevisions(session: String, viewer: Viewer) throws(StoreError) -> [LabelRevision] {
    try read { db in
      let sid = try CaseStore.sessionID(db, session)
      let vid = try CaseStore.viewerRaterID(db, viewer)
      return try Row.fetchAll(
        db,
        sql: """
          SELECT b.case_id, r.name, b.label AS blind_label, cur.label AS current_label,
            (SELECT count(*) FROM annotation l WHERE l.session_id = b.session_id AND l.case_id = b.case_id
               AND l.rater_id = b.rater_id AND l.id > b.id AND (l.changed & 1) != 0) AS revisions
          FROM annotation b JOIN rater r ON r.id = b.rater_id JOIN session s ON s.id = b.session_id
          LEFT JOIN session_current cur ON cur.session_id = b.session_id AND cur.case_id = b.case_id
            AND cur.rater_id = b.rater_id
          WHERE s.blinded AND b.id IN (SELECT min(id) FROM annotation WHERE session_id = ? AND label IS NOT NULL
                                       GROUP BY case_id, rater_id)
            AND (? IS NULL OR b.rater_id = ? OR NOT \(CaseStore.hiddenAnnotationsSQL(viewer: "?", caseExpr: "b.case_id")))
            AND revisions > 0
          ORDER BY b.case_id, r.name
          """, arguments: [sid, vid, vid, vid]
      ).map {
        LabelRevision(
          caseID: $0["case_id"], rater: $0["name"], blindLabel: $0["blind_label"],
          currentLabel: $0["current_label"], revisions: $0["revisions"])
      }
    }
  }
}
