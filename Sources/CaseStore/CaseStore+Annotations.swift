import Foundation
import GRDB
import Imaging

extension CaseStore {
  // MARK: Raters

  /// The rater named `name`, created with role `rater` if new. Names are free text but
  /// must be 1-64 characters without control characters (they are shown in the TUI).
  @discardableResult
  public func ensureRater(_ name: String) throws(StoreError) -> Rater {
    try CaseStore.validateRaterName(name)
    return try write { db in try CaseStore.raterRow(db, name: name, create: true)! }
  }

  /// Gives a rater a role (creating the rater if needed). Only adjudicators may record
  /// adjudications.
  @discardableResult
  public func setRole(_ role: RaterRole, for name: String) throws(StoreError) -> Rater {
    try CaseStore.validateRaterName(name)
    return try write { db in
      _ = try CaseStore.raterRow(db, name: name, create: true)
      try db.execute(sql: "UPDATE rater SET role = ? WHERE name = ?", arguments: [role.rawValue, name])
      return try CaseStore.raterRow(db, name: name, create: false)!
    }
  }

  public func raters() throws(StoreError) -> [Rater] {
    try read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM rater ORDER BY id").map(CaseStore.rater)
    }
  }

  public func rater(named name: String) throws(StoreError) -> Rater? {
    try read { db in try CaseStore.raterRow(db, name: name, create: false) }
  }

  /// Rater names are 1-64 characters, without control, invisible, format or bidi characters
  /// or outer spaces (`Confusables`); they are stored in NFC.
  static func validateRaterName(_ name: String) throws(StoreError) {
    _ = try Confusables.normalisedName(name, what: "rater name")
    guard !name.isEmpty, name.count <= 64,
      !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }),
      name.trimmingCharacters(in: .whitespaces) == name
    else {
      throw .invalidInput("rater name must have 1-64 characters, no control characters or outer spaces")
    }
  }

  static func rater(_ r: Row) -> Rater {
    Rater(
      id: r["id"], name: r["name"], role: RaterRole(rawValue: r["role"]) ?? .rater,
      createdAt: date(r["created_at"]) ?? Date(timeIntervalSince1970: 0))
  }

  static func raterRow(_ db: Database, name given: String, create: Bool) throws -> Rater? {
    let name = given.precomposedStringWithCanonicalMapping
    if let r = try Row.fetchOne(db, sql: "SELECT * FROM rater WHERE name = ?", arguments: [name]) {
      return rater(r)
    }
    guard create else { return nil }
    // A new rater may not look like an existing one (issue 15, item 13).
    _ = try Confusables.normalisedName(name, what: "rater name")
    if let other = Confusables.lookAlike(
      of: name, among: try String.fetchAll(db, sql: "SELECT name FROM rater"))
    {
      throw StoreError.invalidInput(
        "rater name \"\(name)\" looks like the existing rater \"\(other)\" (the same letters to the eye); "
          + "use that rater's name or choose a name that reads differently")
    }
    try db.execute(
      sql: "INSERT INTO rater (name, role, created_at) VALUES (?, 'rater', ?)",
      arguments: [name, timestamp(Date())])
    return rater(try Row.fetchOne(db, sql: "SELECT * FROM rater WHERE name = ?", arguments: [name])!)
  }

  static func raterID(_ db: Database, _ name: String) throws -> Int64? {
    try Int64.fetchOne(
      db, sql: "SELECT id FROM rater WHERE name = ?", arguments: [name.precomposedStringWithCanonicalMapping])
  }

  // MARK: Annotating

  /// Appends an annotation: rater `rater`'s new state for case `caseID`.
  ///
  /// `label` and `mask` set those fields; a field that is neither given nor listed in
  /// `clear` is carried forward from the rater's previous annotation (in the session when
  /// `session` is given, else the rater's newest overall), so a mask stroke keeps the label
  /// and a label change keeps the mask. The new row supersedes the rater's current
  /// annotation of the case; history is never rewritten.
  ///
  /// Committed (and synced) before it returns. In a session: the session must be open, the
  /// rater one of its raters and the case one of its cases; a label lifts that rater's
  /// blinding for the case.
  @discardableResult
  public func annotate(
    case caseID: Int64, rater: String, label: String? = nil, mask: Mask? = nil, session: String? = nil,
    clear: AnnotationFields = [], note: String? = nil
  ) throws(StoreError) -> Annotation {
    try CaseStore.validateRaterName(rater)
    try TextLimits.check(note, "the note")
    let canonical: String? = try label.map { (l: String) throws(StoreError) in try canonicalLabel(l) }
    var changed: AnnotationFields = clear
    if canonical != nil { changed.insert(.label) }
    if mask != nil { changed.insert(.mask) }
    guard !changed.isEmpty else { throw .nothingToRecord }
    let encoded = mask.map { MaskBlob(mask: $0) }
    let now = CaseStore.timestamp(Date())
    return try write { db in
      try CaseStore.appendAnnotation(
        db, caseID: caseID, rater: rater, label: canonical, mask: mask, encoded: encoded, session: session,
        clear: clear,
        changed: changed, note: note, now: now)
    }
  }

  /// Records many labels of one rater in one transaction, each as `annotate` would record it
  /// (outside any session), all stamped `now`: how a large workspace is labelled in one step
  /// (`bench store` builds 100,000 cases × 3 raters this way). Labels must be canonical.
  public func appendLabels(_ labels: [(caseID: Int64, label: String)], rater: String, now: String)
    throws(StoreError)
  {
    try CaseStore.validateRaterName(rater)
    try write { db in
      for (id, label) in labels {
        _ = try CaseStore.appendAnnotation(
          db, caseID: id, rater: rater, label: label, mask: nil, encoded: nil, session: nil, clear: [],
          changed: .label, note: nil, now: now)
      }
    }
  }

  /// Reads every row of the case table once (`count(*)` over an unindexed condition): the
  /// cost of a full scan, the unit `bench store` expresses its page queries in.
  public func scanCaseTable() throws(StoreError) -> Int {
    try read { db in try Int.fetchOne(db, sql: #"SELECT count(*) FROM "case" WHERE width > 0"#) ?? 0 }
  }

  /// The body of `annotate`, inside a write transaction (shared with `importLabels`).
  static func appendAnnotation(
    _ db: Database, caseID: Int64, rater: String, label canonical: String?, mask: Mask?, encoded: MaskBlob?,
    session: String?, clear: AnnotationFields, changed: AnnotationFields, note: String?, now: String
  ) throws -> Annotation {
    guard
      let c = try Row.fetchOne(
        db, sql: #"SELECT width, height FROM "case" WHERE id = ?"#, arguments: [caseID])
    else { throw StoreError.unknownCase(String(caseID)) }
    if let m = mask, m.width != c["width"] || m.height != c["height"] {
      throw StoreError.maskSizeMismatch(
        caseID: caseID, expected: "\(c["width"] as Int)×\(c["height"] as Int)", got: "\(m.width)×\(m.height)")
    }
    let raterID = try CaseStore.raterRow(db, name: rater, create: true)!.id
    var sessionID: Int64? = nil
    if let session {
      sessionID = try CaseStore.openSessionForWriting(
        db, name: session, raterID: raterID, rater: rater, caseID: caseID)
    }
    let previousGlobal = try Row.fetchOne(
      db,
      sql: "SELECT annotation_id, label, mask_id FROM current_annotation WHERE case_id = ? AND rater_id = ?",
      arguments: [caseID, raterID])
    // Carry forward from the state this edit continues: the rater's state in the session,
    // or their newest overall.
    let base: Row?
    if let sessionID {
      base = try Row.fetchOne(
        db,
        sql:
          "SELECT label, mask_id FROM session_current WHERE session_id = ? AND case_id = ? AND rater_id = ?",
        arguments: [sessionID, caseID, raterID])
    } else {
      base = previousGlobal
    }
    let newLabel: String? = canonical ?? (clear.contains(.label) ? nil : base?["label"])
    let newMaskID: Int64?
    if let encoded {
      newMaskID = try encoded.store(db)
    } else {
      newMaskID = clear.contains(.mask) ? nil : base?["mask_id"]
    }
    let supersedes: Int64? = previousGlobal?["annotation_id"]
    try db.execute(
      sql: """
        INSERT INTO annotation (case_id, rater_id, session_id, label, mask_id, changed, supersedes, note, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
      arguments: [caseID, raterID, sessionID, newLabel, newMaskID, changed.rawValue, supersedes, note, now])
    let id = db.lastInsertedRowID
    var revises = false
    if let sessionID, changed.contains(.label) {
      revises =
        try Bool.fetchOne(
          db,
          sql: """
            SELECT s.blinded AND EXISTS (SELECT 1 FROM annotation f WHERE f.session_id = s.id AND f.case_id = ?
                                         AND f.rater_id = ? AND f.id < ? AND f.label IS NOT NULL)
            FROM session s WHERE s.id = ?
            """, arguments: [caseID, raterID, id, sessionID]) ?? false
    }
    return Annotation(
      id: id, caseID: caseID, rater: rater, session: session, label: newLabel,
      maskID: newMaskID,
      changed: changed, supersedes: supersedes, note: note, createdAt: CaseStore.date(now)!,
      revisesBlindLabel: revises)
  }

  /// Every annotation of the case, oldest first, as `viewer` may see them: other raters'
  /// entries are left out while the viewer is blinded for the case.
  public func history(case caseID: Int64, viewer: Viewer) throws(StoreError) -> [Annotation] {
    try read { db in
      let vid = try CaseStore.viewerRaterID(db, viewer)
      let hidden = try CaseStore.annotationsHidden(db, viewerID: vid, caseID: caseID)
      return try Row.fetchAll(
        db,
        sql: """
          SELECT \(CaseStore.annotationColumns) FROM annotation a \(CaseStore.annotationJoins)
          WHERE a.case_id = ? AND (? = 0 OR a.rater_id IS ?)
          ORDER BY a.id
          """,
        arguments: [caseID, hidden ? 1 : 0, vid]
      ).map(CaseStore.annotation)
    }
  }

  /// The current annotation of each rater on the case (in the viewer's session when it has
  /// one), as the viewer may see them.
  public func currentAnnotations(case caseID: Int64, viewer: Viewer) throws(StoreError) -> [Annotation] {
    try read { db in
      let vid = try CaseStore.viewerRaterID(db, viewer)
      let hidden = try CaseStore.annotationsHidden(db, viewerID: vid, caseID: caseID)
      let sid = try CaseStore.viewerSessionID(db, viewer)
      let table = sid == nil ? "current_annotation" : "session_current"
      let scope = sid == nil ? "" : "AND cur.session_id = \(sid!)"
      return try Row.fetchAll(
        db,
        sql: """
          SELECT \(CaseStore.annotationColumns) FROM \(table) cur
          JOIN annotation a ON a.id = cur.annotation_id \(CaseStore.annotationJoins)
          WHERE cur.case_id = ? \(scope) AND (? = 0 OR a.rater_id IS ?)
          ORDER BY r.name
          """,
        arguments: [caseID, hidden ? 1 : 0, vid]
      ).map(CaseStore.annotation)
    }
  }

  /// All annotations with id greater than `id`, oldest first, for the trainer (label and
  /// mask corrections since a model was trained). Not blinded: for `Viewer.system` use.
  public func annotations(after id: Int64, limit: Int = 100_000) throws(StoreError) -> [Annotation] {
    try read { db in
      try Row.fetchAll(
        db,
        sql: """
          SELECT \(CaseStore.annotationColumns) FROM annotation a \(CaseStore.annotationJoins)
          WHERE a.id > ? ORDER BY a.id LIMIT ?
          """,
        arguments: [id, limit]
      ).map(CaseStore.annotation)
    }
  }

  /// How many label and mask corrections were made after annotation `id` (the trigger for
  /// automatic retraining and the choice of which task trains).
  public func correctionCounts(after id: Int64) throws(StoreError) -> (labels: Int, masks: Int) {
    try read { db in
      let r = try Row.fetchOne(
        db,
        sql: "SELECT sum(changed & 1 != 0) AS l, sum(changed & 2 != 0) AS m FROM annotation WHERE id > ?",
        arguments: [id])
      return ((r?["l"] as Int?) ?? 0, (r?["m"] as Int?) ?? 0)
    }
  }

  /// The newest annotation id (0 when none): a model records the id it was trained through.
  public func latestAnnotationID() throws(StoreError) -> Int64 {
    try read { db in try Int64.fetchOne(db, sql: "SELECT max(id) FROM annotation") ?? 0 }
  }

  // MARK: Adjudication

  /// Records a final label for a case. Only raters with the adjudicator role may; the reason
  /// is required. The newest adjudication of a case is its final label.
  @discardableResult
  public func adjudicate(
    case caseID: Int64, adjudicator: String, label: String, mask: Mask? = nil, reason: String,
    session: String? = nil
  ) throws(StoreError) -> Adjudication {
    let canonical = try canonicalLabel(label)
    let reasonText = reason.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !reasonText.isEmpty else { throw .invalidInput("an adjudication needs a reason") }
    try TextLimits.check(reasonText, "the reason")
    let encoded = mask.map { MaskBlob(mask: $0) }
    let now = CaseStore.timestamp(Date())
    return try write { db in
      guard let r = try CaseStore.raterRow(db, name: adjudicator, create: false) else {
        throw StoreError.unknownRater(adjudicator)
      }
      guard r.role == .adjudicator else { throw StoreError.notAdjudicator(adjudicator) }
      guard
        let c = try Row.fetchOne(
          db, sql: #"SELECT width, height FROM "case" WHERE id = ?"#, arguments: [caseID])
      else { throw StoreError.unknownCase(String(caseID)) }
      if let m = mask, m.width != c["width"] || m.height != c["height"] {
        throw StoreError.maskSizeMismatch(
          caseID: caseID, expected: "\(c["width"] as Int)×\(c["height"] as Int)",
          got: "\(m.width)×\(m.height)")
      }
      var sessionID: Int64? = nil
      if let session {
        guard let s = try Row.fetchOne(db, sql: "SELECT id FROM session WHERE name = ?", arguments: [session])
        else {
          throw StoreError.unknownSession(session)
        }
        sessionID = s["id"]
      }
      let maskID = try encoded?.store(db)
      let previous = try Int64.fetchOne(
        db, sql: "SELECT max(id) FROM adjudication WHERE case_id = ?", arguments: [caseID])
      try db.execute(
        sql: """
          INSERT INTO adjudication (case_id, label, mask_id, adjudicator_id, session_id, reason, supersedes, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [caseID, canonical, maskID, r.id, sessionID, reasonText, previous, now])
      return Adjudication(
        id: db.lastInsertedRowID, caseID: caseID, label: canonical, maskID: maskID, adjudicator: adjudicator,
        session: session, reason: reasonText, supersedes: previous, createdAt: CaseStore.date(now)!)
    }
  }

  /// The adjudications of a case, oldest first (the last is the final label), as the viewer
  /// may see them (hidden while the viewer is blinded for the case).
  public func adjudications(case caseID: Int64, viewer: Viewer) throws(StoreError) -> [Adjudication] {
    try read { db in
      let vid = try CaseStore.viewerRaterID(db, viewer)
      if try CaseStore.annotationsHidden(db, viewerID: vid, caseID: caseID) { return [] }
      return try Row.fetchAll(
        db,
        sql: """
          SELECT j.*, r.name AS adjudicator, s.name AS session FROM adjudication j
          JOIN rater r ON r.id = j.adjudicator_id LEFT JOIN session s ON s.id = j.session_id
          WHERE j.case_id = ? ORDER BY j.id
          """, arguments: [caseID]
      ).map { r in
        Adjudication(
          id: r["id"], caseID: r["case_id"], label: r["label"], maskID: r["mask_id"],
          adjudicator: r["adjudicator"],
          session: r["session"], reason: r["reason"], supersedes: r["supersedes"],
          createdAt: CaseStore.date(r["created_at"]) ?? Date(timeIntervalSince1970: 0))
      }
    }
  }
}
