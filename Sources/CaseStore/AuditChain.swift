import Crypto
import Foundation
import GRDB

/// The tamper-evident audit trail: every annotation, adjudication, model promotion and
/// session or role event is sealed into one hash chain, so a row changed, removed or slipped
/// in behind BlastView's back (for example with `sqlite3`, after dropping the append-only
/// triggers) is found by `blastview verify`, which names the first broken link. The head of
/// the chain (its last hash) can be cited next to a published kappa: anyone holding a copy
/// of the workspace can recompute it.
///
/// This file is the specification another backend must reproduce byte for byte (the
/// PostgreSQL store computes the same hashes for the same events); docs/casestore.md repeats
/// it with an example.
///
/// ## Events
/// The chain covers four source tables, each row one event:
/// - `annotation` and `adjudication` (append-only already);
/// - `model_promotion`;
/// - `audit_event`: session and role events, written by triggers: `session_create`
///   (a session row inserted), `session_rater` (a rater added to a session),
///   `session_close` (its `closed_at` set) and `role_change` (a rater's role set to anything
///   but the default `rater`, at creation or later).
///
/// Events are sealed at the end of the write transaction that recorded them (`seal`, called
/// by `CaseStore.write`), in the order (time, source rank, id), where time is the event's
/// own timestamp (`created_at`, `promoted_at`, `at`) and the rank is the order of the list
/// above; the v3 migration seals every row that existed before it the same way.
///
/// ## Canonical encoding of one event (format `blastview-audit-v1`)
/// A sequence of fields, each written as the UTF-8 bytes of
/// `name` `=` (`~` when the value is NULL, else `<n>:<value>` where `<n>` is the decimal
/// number of UTF-8 bytes of value) followed by one line feed (0x0A). Integers are written in
/// decimal with no sign for non-negative values and no leading zeros; booleans as `0`/`1`;
/// timestamps as stored (`2025-01-31T12:34:56.789Z`); names as stored (NFC). The first two
/// fields are always `format` (= `blastview-audit-v1`) and `source` (the table name); then,
/// per source, in this order:
/// - `annotation`: `id`, `case_id`, `case_sha256` (the case's image SHA-256), `rater` (name),
///   `session` (name or NULL), `label`, `mask_sha256` (the mask's SHA-256, or NULL),
///   `changed`, `supersedes`, `note`, `created_at`;
/// - `adjudication`: `id`, `case_id`, `case_sha256`, `adjudicator` (name), `session`,
///   `label`, `mask_sha256`, `reason`, `supersedes`, `created_at`;
/// - `model_promotion`: `id`, `model_version`, `model_sha256` (the model file's SHA-256),
///   `promoted_by`, `reason`, `promoted_at`;
/// - `audit_event`: `id`, `kind`, `session` (name or NULL), `rater` (name or NULL),
///   `detail`, `at`; for `session_create` also `blinded`, `hide_model`, `case_selection`,
///   `created_by` (name) and `cases_sha256`: the SHA-256 (lowercase hex) of the session's case
///   ids in position order, in decimal, joined by `,` (no trailing comma).
///
/// ## The chain
/// `hash = lowercase-hex(SHA-256(previous ‖ 0x0A ‖ payload))` where `previous` is the ASCII
/// lowercase hex hash of the previous link (64 `0` characters for the first) and `payload`
/// the canonical encoding above. Table `audit_chain (seq, source, source_id, payload, hash)`
/// stores each link; it is append-only like the tables it seals.
///
/// ## What it does not promise
/// Someone who can write the database file can rewrite the whole chain after the row they
/// change; that rewrite changes the head. Only a head recorded elsewhere (printed by
/// `verify`, cited in a report) detects it. On PostgreSQL raters cannot write the tables.
public enum AuditChain {
  public static let format = "blastview-audit-v1"
  /// The `previous` of the first link.
  public static let genesis = String(repeating: "0", count: 64)

  /// The source tables in rank order (ties in time are broken by this order, then by id).
  public enum Source: String, CaseIterable, Sendable, Codable {
    case annotation
    case adjudication
    case modelPromotion = "model_promotion"
    case auditEvent = "audit_event"

    var rank: Int { Source.allCases.firstIndex(of: self)! }

    /// The table's timestamp column.
    var timeColumn: String {
      switch self {
      case .annotation, .adjudication: return "created_at"
      case .modelPromotion: return "promoted_at"
      case .auditEvent: return "at"
      }
    }
  }

  /// One field of an event's canonical encoding.
  public typealias Field = (name: String, value: String?)

  /// The canonical encoding of an event (see the type's documentation).
  public static func encode(_ fields: [Field]) -> String {
    var out = ""
    for f in fields {
      out += f.name + "="
      if let v = f.value { out += "\(v.utf8.count):" + v } else { out += "~" }
      out += "\n"
    }
    return out
  }

  /// Parses a canonical encoding back into fields (to say which field of a tampered row
  /// differs); nil when the text is not a canonical encoding.
  public static func decode(_ payload: String) -> [Field]? {
    let bytes = Array(payload.utf8)
    var i = 0
    var fields: [Field] = []
    while i < bytes.count {
      guard let eq = bytes[i...].firstIndex(of: UInt8(ascii: "=")) else { return nil }
      let name = String(decoding: bytes[i..<eq], as: UTF8.self)
      i = eq + 1
      guard i < bytes.count else { return nil }
      if bytes[i] == UInt8(ascii: "~") {
        fields.append((name, nil))
        i += 1
      } else {
        guard let colon = bytes[i...].firstIndex(of: UInt8(ascii: ":")),
          let n = Int(String(decoding: bytes[i..<colon], as: UTF8.self)), n >= 0, colon + 1 + n <= bytes.count
        else { return nil }
        fields.append((name, String(decoding: bytes[(colon + 1)..<(colon + 1 + n)], as: UTF8.self)))
        i = colon + 1 + n
      }
      guard i < bytes.count, bytes[i] == UInt8(ascii: "\n") else { return nil }
      i += 1
    }
    return fields
  }

  /// The hash of a link: SHA-256 over the previous hash, a line feed and the payload.
  public static func hash(previous: String, payload: String) -> String {
    Digest.sha256Hex(Array(previous.utf8) + [0x0A] + Array(payload.utf8))
  }

  // MARK: Reading events

  /// The canonical fields of one source row as the database holds it now; nil when the
  /// row does not exist.
  static func fields(_ db: Database, _ source: Source, id: Int64) throws -> [Field]? {
    func text(_ r: Row, _ c: String) -> String? {
      let v: DatabaseValue = r[c]
      switch v.storage {
      case .null: return nil
      case .int64(let i): return String(i)
      case .double(let d): return String(d)
      case .string(let s): return s
      case .blob(let b): return Digest.sha256Hex([UInt8](b))
      }
    }
    let head: [Field] = [("format", format), ("source", source.rawValue)]
    switch source {
    case .annotation:
      guard
        let r = try Row.fetchOne(
          db,
          sql: """
            SELECT a.id, a.case_id, c.sha256 AS case_sha256, r.name AS rater, s.name AS session, a.label,
              m.sha256 AS mask_sha256, a.changed, a.supersedes, a.note, a.created_at
            FROM annotation a LEFT JOIN "case" c ON c.id = a.case_id LEFT JOIN rater r ON r.id = a.rater_id
            LEFT JOIN session s ON s.id = a.session_id LEFT JOIN mask m ON m.id = a.mask_id
            WHERE a.id = ?
            """, arguments: [id])
      else { return nil }
      return head
        + [
          "id", "case_id", "case_sha256", "rater", "session", "label", "mask_sha256", "changed", "supersedes",
          "note", "created_at",
        ].map { ($0, text(r, $0)) }
    case .adjudication:
      guard
        let r = try Row.fetchOne(
          db,
          sql: """
            SELECT j.id, j.case_id, c.sha256 AS case_sha256, r.name AS adjudicator, s.name AS session, j.label,
              m.sha256 AS mask_sha256, j.reason, j.supersedes, j.created_at
            FROM adjudication j LEFT JOIN "case" c ON c.id = j.case_id
            LEFT JOIN rater r ON r.id = j.adjudicator_id
            LEFT JOIN session s ON s.id = j.session_id LEFT JOIN mask m ON m.id = j.mask_id
            WHERE j.id = ?
            """, arguments: [id])
      else { return nil }
      return head
        + [
          "id", "case_id", "case_sha256", "adjudicator", "session", "label", "mask_sha256", "reason",
          "supersedes", "created_at",
        ].map { ($0, text(r, $0)) }
    case .modelPromotion:
      guard
        let r = try Row.fetchOne(
          db,
          sql: """
            SELECT p.id, p.model_version, m.sha256 AS model_sha256, p.promoted_by, p.reason, p.promoted_at
            FROM model_promotion p LEFT JOIN model m ON m.version = p.model_version WHERE p.id = ?
            """, arguments: [id])
      else { return nil }
      return head
        + ["id", "model_version", "model_sha256", "promoted_by", "reason", "promoted_at"].map {
          ($0, text(r, $0))
        }
    case .auditEvent:
      guard
        let r = try Row.fetchOne(
          db,
          sql: """
            SELECT e.id, e.kind, s.name AS session, r.name AS rater, e.detail, e.at, e.session_id,
              s.blinded, s.hide_model, s.case_selection, cr.name AS created_by
            FROM audit_event e LEFT JOIN session s ON s.id = e.session_id
            LEFT JOIN rater r ON r.id = e.rater_id LEFT JOIN rater cr ON cr.id = s.created_by
            WHERE e.id = ?
            """, arguments: [id])
      else { return nil }
      var f = head + ["id", "kind", "session", "rater", "detail", "at"].map { ($0, text(r, $0)) }
      if (r["kind"] as String?) == "session_create" {
        let ids = try Int64.fetchAll(
          db, sql: "SELECT case_id FROM session_case WHERE session_id = ? ORDER BY position",
          arguments: [r["session_id"] as Int64?])
        f += ["blinded", "hide_model", "case_selection", "created_by"].map { ($0, text(r, $0)) }
        f.append(("cases_sha256", Digest.sha256Hex(Array(ids.map(String.init).joined(separator: ",").utf8))))
      }
      return f
    }
  }

  /// Rows of every source table not yet in the chain, in sealing order.
  static func unsealed(_ db: Database) throws -> [(source: Source, id: Int64)] {
    var pending: [(time: String, rank: Int, id: Int64, source: Source)] = []
    for s in Source.allCases {
      let after =
        try Int64.fetchOne(
          db, sql: "SELECT max(source_id) FROM audit_chain WHERE source = ?", arguments: [s.rawValue]) ?? 0
      for r in try Row.fetchAll(
        db, sql: "SELECT id, \(s.timeColumn) AS t FROM \(s.rawValue) WHERE id > ? ORDER BY id",
        arguments: [after])
      {
        pending.append((r["t"] ?? "", s.rank, r["id"], s))
      }
    }
    pending.sort { ($0.time, $0.rank, $0.id) < ($1.time, $1.rank, $1.id) }
    return pending.map { ($0.source, $0.id) }
  }

  /// Appends every event recorded since the last seal to the chain (inside the writing
  /// transaction, so an event and its link commit together).
  static func seal(_ db: Database) throws {
    let pending = try unsealed(db)
    guard !pending.isEmpty else { return }
    var previous =
      try String.fetchOne(db, sql: "SELECT hash FROM audit_chain ORDER BY seq DESC LIMIT 1") ?? genesis
    for (source, id) in pending {
      guard let f = try fields(db, source, id: id) else { continue }
      let payload = encode(f)
      let h = hash(previous: previous, payload: payload)
      try db.execute(
        sql: "INSERT INTO audit_chain (source, source_id, payload, hash) VALUES (?, ?, ?, ?)",
        arguments: [source.rawValue, id, payload, h])
      previous = h
    }
  }

  // MARK: Verifying

  /// The first place where the chain and the data disagree.
  public struct Break: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The table of the event (or `audit_chain` when the link itself was rewritten).
    public var table: String
    /// The id of the row in `table` (the link's `seq` for `audit_chain`).
    public var id: Int64
    /// What differs, in words.
    public var problem: String

    public var description: String { "\(table) \(id): \(problem)" }
  }

  /// The result of recomputing the chain.
  public struct Verification: Sendable, Codable, Equatable {
    /// Links checked.
    public var links: Int
    /// The last hash (the head to cite), or the genesis hash when empty.
    public var head: String
    /// The first broken link, nil when the chain holds.
    public var firstBreak: Break?
    public var ok: Bool { firstBreak == nil }
  }

  /// Recomputes every link from the rows as they are now and names the first break: a row
  /// changed or removed since it was sealed, a link whose hash does not follow from its
  /// predecessor, or a row that was never sealed (written around BlastView).
  static func verify(_ db: Database) throws -> Verification {
    var previous = genesis
    var links = 0
    let cursor = try Row.fetchCursor(
      db, sql: "SELECT seq, source, source_id, payload, hash FROM audit_chain ORDER BY seq")
    var sealed: [Source: Set<Int64>] = [:]
    while let link = try cursor.next() {
      links += 1
      let seq: Int64 = link["seq"]
      let sourceName: String = link["source"]
      let sourceID: Int64 = link["source_id"]
      let stored: String = link["payload"]
      let storedHash: String = link["hash"]
      guard let source = Source(rawValue: sourceName) else {
        return Verification(
          links: links, head: previous,
          firstBreak: Break(table: "audit_chain", id: seq, problem: "unknown source table \"\(sourceName)\""))
      }
      sealed[source, default: []].insert(sourceID)
      guard hash(previous: previous, payload: stored) == storedHash else {
        return Verification(
          links: links, head: previous,
          firstBreak: Break(
            table: "audit_chain", id: seq,
            problem:
              "the link's hash does not follow from the previous link and its recorded event "
              + "(links were changed, removed or inserted; it seals \(sourceName) \(sourceID))"))
      }
      guard let now = try fields(db, source, id: sourceID) else {
        return Verification(
          links: links, head: previous,
          firstBreak: Break(
            table: sourceName, id: sourceID, problem: "the row was removed after it was sealed"))
      }
      let current = encode(now)
      if current != stored {
        return Verification(
          links: links, head: previous,
          firstBreak: Break(table: sourceName, id: sourceID, problem: differences(sealed: stored, now: now)))
      }
      previous = storedHash
    }
    // Rows never sealed: written without BlastView (sealing happens in every write).
    for s in Source.allCases {
      let seen = sealed[s] ?? []
      for id in try Int64.fetchAll(db, sql: "SELECT id FROM \(s.rawValue) ORDER BY id")
      where !seen.contains(id) {
        return Verification(
          links: links, head: previous,
          firstBreak: Break(
            table: s.rawValue, id: id,
            problem: "the row is not in the audit chain (it was written around BlastView)"))
      }
    }
    return Verification(links: links, head: previous, firstBreak: nil)
  }

  /// Which fields differ between the sealed encoding and the row now, in words.
  static func differences(sealed: String, now: [Field]) -> String {
    guard let old = decode(sealed) else { return "the sealed record is not a canonical encoding" }
    func show(_ v: String?) -> String { v.map { "\"\($0)\"" } ?? "NULL" }
    var parts: [String] = []
    let oldByName = Dictionary(old.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    for f in now {
      let was = oldByName[f.name] ?? nil
      if was != f.value { parts.append("\(f.name) is \(show(f.value)) now, \(show(was)) when sealed") }
    }
    return parts.isEmpty ? "the row differs from its sealed record" : parts.joined(separator: "; ")
  }
}

extension CaseStore {
  /// Recomputes the audit chain (`blastview verify`, `doctor --workspace`).
  public func verifyAuditChain() throws(StoreError) -> AuditChain.Verification {
    try read { db in try AuditChain.verify(db) }
  }
}
