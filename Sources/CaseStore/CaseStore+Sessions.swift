import Foundation
import GRDB

/// Which cases a session covers.
public enum CaseSelection: Sendable, Equatable {
  case all
  case split(Split)
  /// Cases whose reference label (from import) is this class.
  case referenceClass(String)
  /// An explicit list, in this order.
  case ids([Int64])
  /// The first `n` cases by id (import order).
  case first(Int)
  /// `n` cases drawn at random, reproducibly: each case ranked by SHA-256(seed ‖ its image's
  /// digest), the lowest `n` taken, in id order. The same seed draws the same images in any
  /// workspace that holds them, on any platform.
  case random(Int, seed: String)

  public var description: String {
    switch self {
    case .all: return "all"
    case .split(let s): return "split:\(s.rawValue)"
    case .referenceClass(let c): return "class:\(c)"
    case .ids(let ids): return "list of \(ids.count)"
    case .first(let n): return "first:\(n)"
    case .random(let n, let seed): return "random:\(n) seed \(seed)"
    }
  }

  /// The cases a `first` or `random` selection takes from `cases` (id and image digest, any
  /// order); nil for the other selections.
  public func sample(_ cases: [(id: Int64, sha256: String)]) -> [Int64]? {
    switch self {
    case .first(let n): return Array(cases.map(\.id).sorted().prefix(max(0, n)))
    case .random(let n, let seed):
      let ranked = cases.map { (rank: Digest.sampleRank(sha256Hex: $0.sha256, seed: seed), id: $0.id) }
        .sorted { ($0.rank, $0.id) < ($1.rank, $1.id) }
      return ranked.prefix(max(0, n)).map(\.id).sorted()
    default: return nil
    }
  }
}

/// An agreement session and its progress.
public struct SessionInfo: Sendable, Equatable, Codable {
  public var id: Int64
  public var name: String
  public var blinded: Bool
  public var hideModel: Bool
  public var caseSelection: String
  public var createdBy: String
  public var createdAt: Date
  public var closedAt: Date?
  public var raters: [String]
  public var caseCount: Int
  /// Per rater, how many of the session's cases they have labelled in it.
  public var labelled: [String: Int]
  public var isOpen: Bool { closedAt == nil }
}

/// One (case, rater, label) row for agreement statistics.
public struct RaterLabel: Sendable, Equatable, Codable, Hashable {
  public var caseID: Int64
  public var rater: String
  public var label: String
}

/// One (case, rater, mask) row for mask agreement; load the mask with `CaseStore.mask(id:)`.
public struct RaterMask: Sendable, Equatable, Codable, Hashable {
  public var caseID: Int64
  public var rater: String
  public var maskID: Int64
}

extension CaseStore {
  /// Creates an agreement session over `cases` for `raters` (created as raters if new).
  /// Blinded and hide-model sessions start blinding their raters at once (`Blinding.swift`).
  @discardableResult
  public func createSession(
    name given: String, raters: [String], cases: CaseSelection, blinded: Bool, hideModel: Bool,
    createdBy: String
  ) throws(StoreError) -> SessionInfo {
    guard !given.isEmpty, given.count <= 100,
      !given.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
    else { throw .invalidInput("session name must have 1-100 characters and no control characters") }
    let name = try Confusables.normalisedName(given, what: "session name")
    let unique = raters.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    guard !unique.isEmpty else { throw .invalidInput("a session needs at least one rater") }
    for r in unique + [createdBy] { try CaseStore.validateRaterName(r) }
    var referenceClass: String? = nil
    if case .referenceClass(let c) = cases { referenceClass = try canonicalLabel(c) }
    let now = CaseStore.timestamp(Date())
    try write { db in
      if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM session WHERE name = ?)", arguments: [name])
        == true
      {
        throw StoreError.sessionExists(name)
      }
      if let other = Confusables.lookAlike(
        of: name, among: try String.fetchAll(db, sql: "SELECT name FROM session"))
      {
        throw StoreError.invalidInput(
          "session name \"\(name)\" looks like the existing session \"\(other)\"; choose a name that reads differently"
        )
      }
      let creator = try CaseStore.raterRow(db, name: createdBy, create: true)!
      try db.execute(
        sql: """
          INSERT INTO session (name, blinded, hide_model, case_selection, created_by, created_at)
          VALUES (?, ?, ?, ?, ?, ?)
          """, arguments: [name, blinded, hideModel, cases.description, creator.id, now])
      let sid = db.lastInsertedRowID
      for r in unique {
        let rid = try CaseStore.raterRow(db, name: r, create: true)!.id
        try db.execute(
          sql: "INSERT INTO session_rater (session_id, rater_id) VALUES (?, ?)", arguments: [sid, rid])
      }
      switch cases {
      case .all:
        try db.execute(
          sql: #"INSERT INTO session_case (session_id, case_id, position) SELECT ?, id, id FROM "case""#,
          arguments: [sid])
      case .split(let s):
        try db.execute(
          sql:
            #"INSERT INTO session_case (session_id, case_id, position) SELECT ?, id, id FROM "case" WHERE split = ?"#,
          arguments: [sid, s.rawValue])
      case .referenceClass:
        try db.execute(
          sql: """
            INSERT INTO session_case (session_id, case_id, position)
            SELECT ?, id, id FROM "case" WHERE reference_label = ?
            """, arguments: [sid, referenceClass])
      case .first, .random:
        let all = try Row.fetchAll(db, sql: #"SELECT id, sha256 FROM "case""#).map {
          (id: $0["id"] as Int64, sha256: $0["sha256"] as String)
        }
        for (position, id) in (cases.sample(all) ?? []).enumerated() {
          try db.execute(
            sql: "INSERT INTO session_case (session_id, case_id, position) VALUES (?, ?, ?)",
            arguments: [sid, id, position])
        }
      case .ids(let ids):
        var seen: Set<Int64> = []
        var position = 0
        for id in ids where seen.insert(id).inserted {
          guard
            try Bool.fetchOne(db, sql: #"SELECT EXISTS (SELECT 1 FROM "case" WHERE id = ?)"#, arguments: [id])
              == true
          else { throw StoreError.unknownCase(String(id)) }
          try db.execute(
            sql: "INSERT INTO session_case (session_id, case_id, position) VALUES (?, ?, ?)",
            arguments: [sid, id, position])
          position += 1
        }
      }
      let n =
        try Int.fetchOne(db, sql: "SELECT count(*) FROM session_case WHERE session_id = ?", arguments: [sid])
        ?? 0
      guard n > 0 else {
        throw StoreError.invalidInput("no case matches \(cases.description); the session was not created")
      }
      if blinded || hideModel {
        try db.execute(
          sql: """
            INSERT INTO blind_pending (rater_id, case_id, session_id, hide_annotations, hide_model)
            SELECT sr.rater_id, sc.case_id, ?, ?, ? FROM session_rater sr JOIN session_case sc ON sc.session_id = sr.session_id
            WHERE sr.session_id = ?
            """, arguments: [sid, blinded, hideModel, sid])
      }
    }
    return try session(named: name)
  }

  /// Closes a session: it becomes read-only and its blinding ends. Only its creator may.
  public func closeSession(_ name: String, by rater: String) throws(StoreError) {
    let now = CaseStore.timestamp(Date())
    try write { db in
      guard
        let s = try Row.fetchOne(
          db,
          sql:
            "SELECT s.id, s.closed_at, r.name AS creator FROM session s JOIN rater r ON r.id = s.created_by WHERE s.name = ?",
          arguments: [name.precomposedStringWithCanonicalMapping])
      else { throw StoreError.unknownSession(name) }
      guard (s["closed_at"] as String?) == nil else { throw StoreError.sessionClosed(name) }
      guard (s["creator"] as String) == rater else {
        throw StoreError.notSessionCreator(rater: rater, session: name)
      }
      try db.execute(
        sql: "UPDATE session SET closed_at = ? WHERE id = ?", arguments: [now, s["id"] as Int64])
    }
  }

  public func session(named name: String) throws(StoreError) -> SessionInfo {
    let found = try read { db in
      try CaseStore.sessionInfos(
        db, whereSQL: "s.name = ?", arguments: [name.precomposedStringWithCanonicalMapping]
      ).first
    }
    guard let found else { throw .unknownSession(name) }
    return found
  }

  /// All sessions, newest first.
  public func sessions() throws(StoreError) -> [SessionInfo] {
    try read { db in try CaseStore.sessionInfos(db, whereSQL: "1", arguments: []) }
  }

  static func sessionInfos(_ db: Database, whereSQL: String, arguments: StatementArguments) throws
    -> [SessionInfo]
  {
    let rows = try Row.fetchAll(
      db,
      sql: """
        SELECT s.*, r.name AS creator,
          (SELECT count(*) FROM session_case sc WHERE sc.session_id = s.id) AS n_cases
        FROM session s JOIN rater r ON r.id = s.created_by WHERE \(whereSQL) ORDER BY s.id DESC
        """, arguments: arguments)
    return try rows.map { r in
      let sid: Int64 = r["id"]
      let raters = try String.fetchAll(
        db,
        sql:
          "SELECT r.name FROM session_rater sr JOIN rater r ON r.id = sr.rater_id WHERE sr.session_id = ? ORDER BY r.name",
        arguments: [sid])
      var labelled: [String: Int] = [:]
      for name in raters { labelled[name] = 0 }
      for row in try Row.fetchAll(
        db,
        sql: """
          SELECT r.name, count(*) AS n FROM session_current sc JOIN rater r ON r.id = sc.rater_id
          WHERE sc.session_id = ? AND sc.label IS NOT NULL GROUP BY r.name
          """, arguments: [sid])
      {
        labelled[row["name"]] = row["n"]
      }
      return SessionInfo(
        id: sid, name: r["name"], blinded: r["blinded"], hideModel: r["hide_model"],
        caseSelection: r["case_selection"],
        createdBy: r["creator"], createdAt: date(r["created_at"]) ?? Date(timeIntervalSince1970: 0),
        closedAt: date(r["closed_at"]), raters: raters, caseCount: r["n_cases"], labelled: labelled)
    }
  }

  /// Checks that an annotation may be written in the session; returns its id.
  static func openSessionForWriting(
    _ db: Database, name: String, raterID: Int64, rater: String, caseID: Int64
  ) throws
    -> Int64
  {
    guard
      let s = try Row.fetchOne(
        db, sql: "SELECT id, closed_at FROM session WHERE name = ?",
        arguments: [name.precomposedStringWithCanonicalMapping])
    else {
      throw StoreError.unknownSession(name)
    }
    guard (s["closed_at"] as String?) == nil else { throw StoreError.sessionClosed(name) }
    let sid: Int64 = s["id"]
    guard
      try Bool.fetchOne(
        db, sql: "SELECT EXISTS (SELECT 1 FROM session_rater WHERE session_id = ? AND rater_id = ?)",
        arguments: [sid, raterID]) == true
    else { throw StoreError.raterNotInSession(rater: rater, session: name) }
    guard
      try Bool.fetchOne(
        db, sql: "SELECT EXISTS (SELECT 1 FROM session_case WHERE session_id = ? AND case_id = ?)",
        arguments: [sid, caseID]) == true
    else { throw StoreError.caseNotInSession(caseID: caseID, session: name) }
    return sid
  }

  /// The current labels made in `session`, one row per (case, rater) with a label, as the
  /// viewer may see them: a blinded rater gets their own labels and other raters' labels
  /// only on cases they have labelled themselves. Agreement counts `agreementLabels`
  /// instead (in a blinded session the label given blind, not a revision made after peeking).
  public func currentLabels(session: String, viewer: Viewer) throws(StoreError) -> [RaterLabel] {
    try read { db in
      try CaseStore.currentSessionLabels(db, sessionID: try CaseStore.sessionID(db, session), viewer: viewer)
    }
  }

  static func currentSessionLabels(_ db: Database, sessionID sid: Int64, viewer: Viewer) throws
    -> [RaterLabel]
  {
    let vid = try CaseStore.viewerRaterID(db, viewer)
    return try Row.fetchAll(
      db,
      sql: """
        SELECT sc.case_id, r.name, sc.label FROM session_current sc JOIN rater r ON r.id = sc.rater_id
        WHERE sc.session_id = ? AND sc.label IS NOT NULL
          AND (? IS NULL OR sc.rater_id = ? OR NOT \(CaseStore.hiddenAnnotationsSQL(viewer: "?", caseExpr: "sc.case_id")))
        ORDER BY sc.case_id, r.name
        """, arguments: [sid, vid, vid, vid]
    ).map { RaterLabel(caseID: $0[0], rater: $0[1], label: $0[2]) }
  }

  /// The current masks made in `session` (or, with `session` nil, every rater's current
  /// mask), one row per (case, rater), as the viewer may see them.
  public func currentMasks(session: String?, viewer: Viewer) throws(StoreError) -> [RaterMask] {
    try read { db in
      let vid = try CaseStore.viewerRaterID(db, viewer)
      let visible =
        "(? IS NULL OR c.rater_id = ? OR NOT \(CaseStore.hiddenAnnotationsSQL(viewer: "?", caseExpr: "c.case_id")))"
      if let session {
        let sid = try CaseStore.sessionID(db, session)
        return try Row.fetchAll(
          db,
          sql: """
            SELECT c.case_id, r.name, c.mask_id FROM session_current c JOIN rater r ON r.id = c.rater_id
            WHERE c.session_id = ? AND c.mask_id IS NOT NULL AND \(visible) ORDER BY c.case_id, r.name
            """, arguments: [sid, vid, vid, vid]
        ).map { RaterMask(caseID: $0[0], rater: $0[1], maskID: $0[2]) }
      }
      return try Row.fetchAll(
        db,
        sql: """
          SELECT c.case_id, r.name, c.mask_id FROM current_annotation c JOIN rater r ON r.id = c.rater_id
          WHERE c.mask_id IS NOT NULL AND \(visible) ORDER BY c.case_id, r.name
          """, arguments: [vid, vid, vid]
      ).map { RaterMask(caseID: $0[0], rater: $0[1], maskID: $0[2]) }
    }
  }

  /// Every rater's current label across the workspace (outside sessions too), as the viewer
  /// may see them: the input of triage and of retraining (`Viewer.system`).
  public func currentLabels(viewer: Viewer) throws(StoreError) -> [RaterLabel] {
    try read { db in
      let vid = try CaseStore.viewerRaterID(db, viewer)
      return try Row.fetchAll(
        db,
        sql: """
          SELECT c.case_id, r.name, c.label FROM current_annotation c JOIN rater r ON r.id = c.rater_id
          WHERE c.label IS NOT NULL
            AND (? IS NULL OR c.rater_id = ? OR NOT \(CaseStore.hiddenAnnotationsSQL(viewer: "?", caseExpr: "c.case_id")))
          ORDER BY c.case_id, r.name
          """, arguments: [vid, vid, vid]
      ).map { RaterLabel(caseID: $0[0], rater: $0[1], label: $0[2]) }
    }
  }

  /// The session's case ids in queue order for `rater`: cases they have not labelled in the
  /// session first, then the rest, each in session order.
  public func sessionQueue(session: String, rater: String) throws(StoreError) -> [Int64] {
    try read { db in
      let sid = try CaseStore.viewerSessionID(db, .rater(rater, session: session))!
      let rid = try CaseStore.raterID(db, rater) ?? -1
      return try Int64.fetchAll(
        db,
        sql: """
          SELECT sc.case_id FROM session_case sc
          LEFT JOIN session_current cur ON cur.session_id = sc.session_id AND cur.case_id = sc.case_id
            AND cur.rater_id = ? AND cur.label IS NOT NULL
          WHERE sc.session_id = ? ORDER BY cur.case_id IS NOT NULL, sc.position
          """, arguments: [rid, sid])
    }
  }

  static func sessionID(_ db: Database, _ name: String) throws -> Int64 {
    guard
      let sid = try Int64.fetchOne(
        db, sql: "SELECT id FROM session WHERE name = ?",
        arguments: [name.precomposedStringWithCanonicalMapping])
    else {
      throw StoreError.unknownSession(name)
    }
    return sid
  }
}
