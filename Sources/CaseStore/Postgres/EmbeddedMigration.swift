import FileSafety
import Foundation
import GRDB

/// What `blastview migrate --from-sqlite` copied.
public struct EmbeddedMigrationSummary: Sendable, Codable, Equatable {
  public var raters = 0
  public var cases = 0
  public var masks = 0
  public var sessions = 0
  public var models = 0
  public var predictions = 0
  public var annotations = 0
  public var adjudications = 0
  public var promotions = 0
  public var events = 0
  /// Links of the audit chain, and its head: the embedded workspace's, reproduced by the
  /// database from the copied rows.
  public var links = 0
  public var head = AuditChain.genesis
}

extension PostgresStore {
  /// Moves an embedded (SQLite) workspace into this fresh shared one, in one transaction:
  /// raters (each becomes a PostgreSQL login role with its group role), cases with their
  /// images (into the database, SHA-256 checked), masks, sessions, models with their files,
  /// predictions, and every annotation, adjudication, promotion and session or role event with
  /// its original id, rater and time. The source's audit chain is verified first (a broken
  /// chain is refused, naming the link); the chain events are then copied in the source's
  /// chain order, each sealed by the database as it is copied, so the database recomputes
  /// the source's chain; the copy is committed only when its head is the source's.
  ///
  /// Not copied: training jobs and their logs (the history of the background trainer, not of
  /// the data) and per-user caches. Only the service role migrates, into a workspace with no
  /// rater, case or event yet.
  public func importEmbedded(_ source: CaseStore) throws(StoreError) -> EmbeddedMigrationSummary {
    guard isService else {
      throw .invalidInput(
        "only the shared workspace's service role (the owner of its schema) migrates into it; "
          + "\(connectedRater ?? "this role") is not")
    }
    let sourceChain = try PostgresStore.requireIntactChain(source)
    guard source.labelSchema.classNames == labelSchema.classNames else {
      throw .invalidInput(
        "the shared workspace's classes (\(labelSchema.classNames.joined(separator: ", "))) are not the "
          + "embedded workspace's (\(source.labelSchema.classNames.joined(separator: ", ")))")
    }
    return try connection.transaction { () throws(StoreError) -> EmbeddedMigrationSummary in
      try requireEmpty()
      var s = EmbeddedMigrationSummary()
      try copyPeopleAndCases(source, &s)
      try copySessionsAndModels(source, &s)
      try copyChainEvents(source, &s)
      try copyDerivedState(source)
      try resetSequences()
      let copy = try verifyAuditChain()
      guard copy.ok, copy.head == sourceChain.head, copy.links == sourceChain.links else {
        throw .invalidInput(
          "the copy's audit chain does not reproduce the embedded workspace's (\(try firstDifference(source))); "
            + "nothing was copied")
      }
      s.links = copy.links
      s.head = copy.head
      return s
    }
  }

  /// The embedded workspace's chain, verified; a broken one is refused, naming the link.
  public static func requireIntactChain(_ source: CaseStore) throws(StoreError) -> AuditChain.Verification {
    let chain = try source.verifyAuditChain()
    if let b = chain.firstBreak {
      throw .invalidInput(
        "the audit chain of the embedded workspace \(source.workspace.directory) is broken at "
          + "\(b.table) \(b.id): \(b.problem); nothing was copied (restore a backup made before the change, "
          + "then migrate)")
    }
    return chain
  }

  /// A migration goes into a workspace nobody has used yet.
  private func requireEmpty() throws(StoreError) {
    let used = try connection.query(
      """
      SELECT (SELECT count(*) FROM blastview.rater) + (SELECT count(*) FROM blastview."case")
        + (SELECT count(*) FROM blastview.audit_event) + (SELECT count(*) FROM blastview.model)
      """
    ).first?[0]
    guard used == "0" else {
      throw .invalidInput(
        "the shared workspace at \(connection.displayTarget) already has raters, cases or models; "
          + "migrate into a new database (or one whose `blastview` schema does not exist yet)")
    }
  }

  private func copyPeopleAndCases(_ source: CaseStore, _ s: inout EmbeddedMigrationSummary) throws(StoreError)
  {
    let raters = try source.read { db in
      try Row.fetchAll(db, sql: "SELECT id, name, role, created_at FROM rater ORDER BY id")
    }
    for r in raters {
      try connection.query(
        "SELECT blastview.rater_grant($1, $2)", [.text(r["name"] as String), .text(r["role"] as String)])
      try insert("rater", ["id", "name", "created_at"], r)
      s.raters += 1
    }
    let cases = try source.read { db in
      try Row.fetchAll(
        db,
        sql:
          "SELECT id, path, sha256, format, width, height, reference_label, split, added_at FROM \"case\" ORDER BY id"
      )
    }
    for c in cases {
      let id: Int64 = c["id"]
      let bytes = try source.imageBytes(case: id)
      try connection.query(
        "INSERT INTO blastview.image (sha256, bytes) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING",
        [.text(c["sha256"] as String), .bytes(bytes)])
      try insert(
        "case",
        ["id", "path", "sha256", "format", "width", "height", "reference_label", "split", "added_at"], c)
      s.cases += 1
    }
    try source.read { db in
      let masks = try Row.fetchCursor(db, sql: "SELECT id, sha256, width, height, png FROM mask ORDER BY id")
      while let m = try masks.next() {
        try insert("mask", ["id", "sha256", "width", "height", "png"], m)
        s.masks += 1
      }
      for r in try Row.fetchAll(db, sql: "SELECT case_id, mask_id, source FROM reference_mask") {
        try insert("reference_mask", ["case_id", "mask_id", "source"], r)
      }
    }
  }

  private func copySessionsAndModels(_ source: CaseStore, _ s: inout EmbeddedMigrationSummary)
    throws(StoreError)
  {
    try source.read { db in
      for r in try Row.fetchAll(db, sql: "SELECT * FROM session ORDER BY id") {
        try insert(
          "session",
          ["id", "name", "blinded", "hide_model", "case_selection", "created_by", "created_at", "closed_at"],
          r)
        s.sessions += 1
      }
      for r in try Row.fetchAll(db, sql: "SELECT session_id, rater_id FROM session_rater") {
        try insert("session_rater", ["session_id", "rater_id"], r)
      }
      for r in try Row.fetchAll(db, sql: "SELECT session_id, case_id, position FROM session_case") {
        try insert("session_case", ["session_id", "case_id", "position"], r)
      }
    }
    // Model files move into the database, checked against their registered SHA-256.
    let files = Dictionary(
      try source.models().map { ($0.version, $0.file) }, uniquingKeysWith: { a, _ in a })
    let models = try source.read { db in try Row.fetchAll(db, sql: "SELECT * FROM model ORDER BY version") }
    for m in models {
      let version: Int64 = m["version"]
      let sha: String = m["sha256"]
      let path = files[version] ?? ""
      let bytes: [UInt8]
      do { bytes = try SafeFile.read(path, maxBytes: 4 << 30) } catch {
        throw .io(path: path, reason: error.why)
      }
      guard Digest.sha256Hex(bytes) == sha else { throw .modelFileMismatch(version: version, path: path) }
      try connection.query(
        "INSERT INTO blastview.model_file (sha256, bytes) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING",
        [.text(sha), .bytes(bytes)])
      try insert(
        "model",
        [
          "version", "parent", "sha256", "tasks", "trained_tasks", "frozen_tasks", "frozen_verified",
          "metrics",
          "config", "training_job_id", "trained_through_annotation", "notes", "created_at",
        ], m)
      s.models += 1
    }
    try source.read { db in
      for r in try Row.fetchAll(db, sql: "SELECT * FROM prediction ORDER BY model_version, case_id") {
        try insert(
          "prediction",
          [
            "case_id", "model_version", "label", "confidence", "probabilities", "p_malignant", "mask_id",
            "detections", "colour_distance", "colour_unusual", "created_at",
          ], r)
        s.predictions += 1
      }
    }
  }

  /// The chain's events in the source chain's order, each sealed by the database as soon as
  /// it is in (so the links follow in the same order even where two source transactions
  /// recorded the same millisecond).
  private func copyChainEvents(_ source: CaseStore, _ s: inout EmbeddedMigrationSummary) throws(StoreError) {
    let columns: [AuditChain.Source: [String]] = [
      .annotation: [
        "id", "case_id", "rater_id", "session_id", "label", "mask_id", "changed", "supersedes", "note",
        "created_at",
      ],
      .adjudication: [
        "id", "case_id", "label", "mask_id", "adjudicator_id", "session_id", "reason", "supersedes",
        "created_at",
      ],
      .modelPromotion: ["id", "model_version", "promoted_by", "reason", "promoted_at"],
      .auditEvent: ["id", "kind", "session_id", "rater_id", "detail", "at"],
    ]
    try source.read { db in
      let links = try Row.fetchCursor(db, sql: "SELECT source, source_id FROM audit_chain ORDER BY seq")
      while let link = try links.next() {
        let name: String = link["source"]
        let id: Int64 = link["source_id"]
        guard let kind = AuditChain.Source(rawValue: name), let cols = columns[kind],
          let row = try Row.fetchOne(
            db, sql: "SELECT \(cols.joined(separator: ", ")) FROM \(kind.rawValue) WHERE id = ?",
            arguments: [id])
        else {
          throw StoreError.invalidInput(
            "the embedded workspace's chain names \(name) \(id), which is missing")
        }
        try insert(kind.rawValue, cols, row)
        try connection.query("SELECT blastview.audit_seal()")
        switch kind {
        case .annotation: s.annotations += 1
        case .adjudication: s.adjudications += 1
        case .modelPromotion: s.promotions += 1
        case .auditEvent: s.events += 1
        }
      }
    }
  }

  /// Who is still blinded to what, and the split seed, as the source has them now.
  private func copyDerivedState(_ source: CaseStore) throws(StoreError) {
    try connection.query("DELETE FROM blastview.blind_pending")
    try source.read { db in
      for r in try Row.fetchAll(
        db, sql: "SELECT rater_id, case_id, session_id, hide_annotations, hide_model FROM blind_pending")
      {
        try insert(
          "blind_pending", ["rater_id", "case_id", "session_id", "hide_annotations", "hide_model"], r)
      }
      if let seed = try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = 'split_seed'") {
        try connection.query(
          "UPDATE blastview.setting SET value = $1 WHERE key = 'split_seed'", [.text(seed)])
      }
    }
  }

  /// The copied rows kept their ids: new ones continue after them.
  private func resetSequences() throws(StoreError) {
    for (table, column) in [
      ("rater", "id"), ("case", "id"), ("mask", "id"), ("session", "id"), ("annotation", "id"),
      ("adjudication", "id"), ("model", "version"), ("model_promotion", "id"), ("audit_event", "id"),
    ] {
      try connection.query(
        "SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(\(column)) FROM blastview.\"\(table)\"), 1), "
          + "(SELECT max(\(column)) FROM blastview.\"\(table)\") IS NOT NULL)",
        [.text("blastview.\"\(table)\""), .text(column)])
    }
  }

  /// The first link whose recorded event differs between the source and the copy.
  private func firstDifference(_ source: CaseStore) throws(StoreError) -> String {
    let theirs = try source.read { db in
      try Row.fetchAll(db, sql: "SELECT source, source_id, payload FROM audit_chain ORDER BY seq").map {
        ($0["source"] as String, $0["source_id"] as Int64, $0["payload"] as String)
      }
    }
    let ours = try connection.query(
      "SELECT source, source_id, payload FROM blastview.audit_chain ORDER BY seq")
    for (i, t) in theirs.enumerated() {
      guard i < ours.count else { return "the copy has no link for \(t.0) \(t.1)" }
      let o = ours[i]
      if o["source"] != t.0 || o.int("source_id") != t.1 || o["payload"] != t.2 {
        let differs =
          AuditChain.decode(o["payload"] ?? "").map { AuditChain.differences(sealed: t.2, now: $0) }
          ?? "differs"
        return "\(t.0) \(t.1): \(differs)"
      }
    }
    return ours.count > theirs.count
      ? "the copy has \(ours.count - theirs.count) link(s) more" : "the heads differ"
  }

  /// Inserts one SQLite row into the same-named table of the shared workspace, column by
  /// column as a parameter (PostgreSQL converts each from its text form to the column's type:
  /// 0/1 to boolean, the stored ISO timestamps to timestamptz).
  private func insert(_ table: String, _ columns: [String], _ row: Row) throws(StoreError) {
    let values: [PGValue] = columns.map { c in
      let v: DatabaseValue = row[c]
      switch v.storage {
      case .null: return .null
      case .int64(let i): return .int(i)
      case .double(let d): return .double(d)
      case .string(let s): return .text(s)
      case .blob(let b): return .bytes([UInt8](b))
      }
    }
    let names = columns.map { "\"\($0)\"" }.joined(separator: ", ")
    let params = columns.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
    try connection.query("INSERT INTO blastview.\"\(table)\" (\(names)) VALUES (\(params))", values)
  }
}
