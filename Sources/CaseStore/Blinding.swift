import GRDB

/// The blinding rules (DESIGN §3), enforced in SQL so hidden data never leaves the store.
///
/// When a session is created blinded (`--blind`) or with `--hide-model`, a row goes into
/// `blind_pending` for every (session rater, session case). While such a row exists:
/// - `hide_annotations`: the rater's reads return no other rater's annotation of that case
///   (labels, masks, history entries, adjudications, the reference label and mask from
///   import, the disagreement flag), in every context, not only inside the session;
/// - `hide_model`: the rater's reads return no prediction for that case (and sorting and
///   filtering by prediction treat it as absent, so order leaks nothing either).
/// A row is removed, in the same transaction, when that rater records a label for the case
/// in that session (trigger `annotation_derive`), and all of a session's rows when it is
/// closed (trigger `session_close`). A rater in two blinded sessions over one case stays
/// blinded until both are satisfied.
///
/// The viewer's own annotations are never hidden. `Viewer.system` (no rater) sees everything.
extension CaseStore {
  /// SQL true when the viewer (bound as the rater id `viewerParam`) may not see other raters'
  /// annotations of case `caseExpr`.
  static func hiddenAnnotationsSQL(viewer viewerParam: String, caseExpr: String) -> String {
    """
    EXISTS (SELECT 1 FROM blind_pending bp WHERE bp.rater_id = \(viewerParam) \
    AND bp.case_id = \(caseExpr) AND bp.hide_annotations)
    """
  }

  /// SQL true when the viewer may not see the model's prediction for case `caseExpr`.
  static func hiddenModelSQL(viewer viewerParam: String, caseExpr: String) -> String {
    """
    EXISTS (SELECT 1 FROM blind_pending bp WHERE bp.rater_id = \(viewerParam) \
    AND bp.case_id = \(caseExpr) AND bp.hide_model)
    """
  }

  /// The viewer's rater id: nil for `Viewer.system`; -1 for a rater name the workspace has
  /// never seen (such a rater has no annotations and is in no session, so nothing is
  /// hidden from them and nothing is theirs).
  static func viewerRaterID(_ db: Database, _ viewer: Viewer) throws -> Int64? {
    guard let name = viewer.rater else { return nil }
    return try raterID(db, name) ?? -1
  }

  /// The viewer's session id, checking that the session exists and the viewer (if a rater)
  /// is one of its raters, its creator or an adjudicator. The creator (a lead who is no rater
  /// of the session) may read it to follow its agreement and close it, an adjudicator to
  /// adjudicate its disagreements; as non-members they have no blinding rows, so they read
  /// what they would read outside the session, and they cannot label in it
  /// (`openSessionForWriting`).
  static func viewerSessionID(_ db: Database, _ viewer: Viewer) throws -> Int64? {
    guard let name = viewer.session else { return nil }
    guard
      let sid = try Int64.fetchOne(
        db, sql: "SELECT id FROM session WHERE name = ?",
        arguments: [name.precomposedStringWithCanonicalMapping])
    else {
      throw StoreError.unknownSession(name)
    }
    if let rater = viewer.rater {
      let nfc = rater.precomposedStringWithCanonicalMapping
      let member =
        try Bool.fetchOne(
          db,
          sql: """
            SELECT EXISTS (SELECT 1 FROM session_rater sr JOIN rater r ON r.id = sr.rater_id
                           WHERE sr.session_id = ? AND r.name = ?)
              OR EXISTS (SELECT 1 FROM session s JOIN rater r ON r.id = s.created_by
                         WHERE s.id = ? AND r.name = ?)
              OR EXISTS (SELECT 1 FROM rater WHERE name = ? AND role = 'adjudicator')
            """,
          arguments: [sid, nfc, sid, nfc, nfc]) ?? false
      if !member { throw StoreError.raterNotInSession(rater: rater, session: name) }
    }
    return sid
  }

  static func annotationsHidden(_ db: Database, viewerID: Int64?, caseID: Int64) throws -> Bool {
    guard let viewerID else { return false }
    return try Bool.fetchOne(
      db, sql: "SELECT " + hiddenAnnotationsSQL(viewer: "?", caseExpr: "?"), arguments: [viewerID, caseID])
      ?? false
  }

  static func modelHidden(_ db: Database, viewerID: Int64?, caseID: Int64) throws -> Bool {
    guard let viewerID else { return false }
    return try Bool.fetchOne(
      db, sql: "SELECT " + hiddenModelSQL(viewer: "?", caseExpr: "?"), arguments: [viewerID, caseID]) ?? false
  }

  /// Whether the viewer is blinded for anything at all (lets the browser use its fastest
  /// plans when not).
  static func viewerHasPendingBlinding(_ db: Database, viewerID: Int64?) throws -> (
    annotations: Bool, model: Bool
  ) {
    guard let viewerID else { return (false, false) }
    let a =
      try Bool.fetchOne(
        db, sql: "SELECT EXISTS (SELECT 1 FROM blind_pending WHERE rater_id = ? AND hide_annotations)",
        arguments: [viewerID]) ?? false
    let m =
      try Bool.fetchOne(
        db, sql: "SELECT EXISTS (SELECT 1 FROM blind_pending WHERE rater_id = ? AND hide_model)",
        arguments: [viewerID]) ?? false
    return (a, m)
  }
}

extension CaseStore {
  /// Whether the viewer may not see the model's output for the case (`--hide-model`): what
  /// `explain` and `predict` ask before they print probabilities for it.
  public func isModelHidden(case caseID: Int64, viewer: Viewer) throws(StoreError) -> Bool {
    try read { db in
      try CaseStore.modelHidden(db, viewerID: CaseStore.viewerRaterID(db, viewer), caseID: caseID)
    }
  }

  /// The case whose image has the same bytes as the file at `path`, when the viewer may not
  /// see the model's output for it: a rater who passes the image file itself (instead of the
  /// case id) must be refused the same way.
  public func caseWithHiddenModel(imageFile path: String, viewer: Viewer) throws(StoreError) -> Int64? {
    guard viewer.rater != nil else { return nil }
    let sha = try Digest.sha256Hex(fileAt: path)
    return try read { db in
      guard let id = try Int64.fetchOne(db, sql: #"SELECT id FROM "case" WHERE sha256 = ?"#, arguments: [sha])
      else { return nil }
      return try CaseStore.modelHidden(db, viewerID: CaseStore.viewerRaterID(db, viewer), caseID: id)
        ? id : nil
    }
  }
}
