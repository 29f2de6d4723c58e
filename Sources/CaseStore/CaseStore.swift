import Foundation
import GRDB

/// The case store of one workspace: cases, raters, append-only annotations, sessions with
/// blinding, adjudications, the model registry, predictions and training jobs.
///
/// One `CaseStore` per process and workspace; it is `Sendable` and safe to use from any
/// thread. Several processes (raters, a trainer) may open the same workspace at once:
/// SQLite's WAL mode lets readers proceed during writes; each write is one IMMEDIATE
/// transaction, committed with `synchronous = FULL` before the call returns (so a returned
/// `annotate` survives `kill -9` and power loss); `SQLITE_BUSY` is absorbed by a busy timeout
/// and then by a retry loop with backoff, so "database is locked" never reaches a user.
///
/// Reads that show annotations or predictions take a `Viewer` and apply the blinding rules
/// (`Blinding.swift`) inside the SQL, so hidden data never leaves the store.
public final class CaseStore: Sendable {
  public let workspace: Workspace
  /// The workspace's label schema, fixed at `init`.
  public let labelSchema: LabelSchema
  let pool: DatabasePool
  /// The database file, registered in `OpenDatabases` while this store is open.
  let fileID: OpenDatabases.FileID?

  /// How long one SQLite call waits for a lock before reporting busy.
  static let busyTimeout: TimeInterval = 5
  /// How long a write keeps retrying after busy reports before it gives up.
  static let retryBudget: TimeInterval = 120

  init(workspace: Workspace) throws(StoreError) {
    self.workspace = workspace
    try workspace.preflight()
    let path = workspace.databasePath
    do {
      // Inspect read-only first: a foreign or newer database must not be touched, not even
      // switched to WAL mode.
      let probe = try DatabaseQueue(path: path, configuration: CaseStore.configuration(readonly: true))
      try probe.read { db in
        // Damage first: a flipped byte can make a damaged workspace look foreign or newer,
        // and that advice ("upgrade", "not a workspace") would be wrong.
        try DamageCheck.onOpen(db, path: path)
        let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        guard appID == Schema.applicationID else {
          try DamageCheck.foreignOrDamaged(db, path: path)
          throw StoreError.notABlastViewDatabase(path)
        }
        let migrator = Schema.migrator
        if try migrator.hasBeenSuperseded(db) {
          // Unknown migration names are either a newer BlastView or damaged rows of
          // grdb_migrations; the full check tells them apart (its index no longer matches).
          try DamageCheck.full(db, path: path)
          let known = Set(migrator.migrations)
          let unknown = try migrator.appliedIdentifiers(db).filter { !known.contains($0) }.sorted()
          throw StoreError.newerSchema(path: path, unknownMigrations: unknown)
        }
      }
      try probe.close()
      pool = try DatabasePool(path: path, configuration: CaseStore.configuration(readonly: false))
      try pool.writeWithoutTransaction { db in
        try db.execute(sql: "PRAGMA synchronous = FULL")
      }
      try Schema.migrator.migrate(pool)
      labelSchema = try pool.read { db in try CaseStore.readLabelSchema(db) }
    } catch {
      throw StoreError.from(error, path: path)
    }
    fileID = OpenDatabases.fileID(path)
    if let fileID { OpenDatabases.shared.opened(fileID, by: ObjectIdentifier(self)) }
  }

  deinit {
    if let fileID { OpenDatabases.shared.closed(fileID, by: ObjectIdentifier(self)) }
  }

  static func configuration(readonly: Bool) -> Configuration {
    var config = Configuration()
    config.readonly = readonly
    config.busyMode = .timeout(busyTimeout)
    config.foreignKeysEnabled = true
    config.label = "BlastView.CaseStore"
    config.maximumReaderCount = 4
    return config
  }

  /// Closes the database connections (tests and `backup` use it; a process may also just exit).
  public func close() throws(StoreError) {
    do { try pool.close() } catch { throw StoreError.from(error, path: workspace.databasePath) }
    if let fileID { OpenDatabases.shared.closed(fileID, by: ObjectIdentifier(self)) }
  }

  // MARK: Database access with busy retry

  /// One write transaction, retried while another process holds the lock. Our own
  /// validation errors (`StoreError`) pass through; SQLite errors are translated. Whatever
  /// the body recorded is sealed into the audit chain in the same transaction
  /// (`AuditChain.swift`).
  func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
    try CaseStore.retrying(path: workspace.databasePath) {
      try pool.write { db in
        let result = try body(db)
        try AuditChain.seal(db)
        return result
      }
    }
  }

  /// One read transaction (a consistent snapshot), retried on the rare busy report a WAL
  /// reader can get while another process recovers or checkpoints the log.
  func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
    try CaseStore.retrying(path: workspace.databasePath) { try pool.read(body) }
  }

  static func retrying<T>(path: String, _ attempt: () throws -> T) throws(StoreError) -> T {
    let deadline = Date().addingTimeInterval(retryBudget)
    var delay: UInt32 = 2_000
    while true {
      do {
        return try attempt()
      } catch let e as DatabaseError where e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED {
        if Date() > deadline { throw StoreError.busy(path) }
        usleep(delay + UInt32.random(in: 0...delay))
        delay = min(delay * 2, 100_000)
      } catch {
        throw StoreError.from(error, path: path)
      }
    }
  }

  // MARK: Change detection

  /// A number that changes whenever another process (or another `CaseStore` on the same
  /// workspace) commits a change: SQLite's `PRAGMA data_version` on this store's writing
  /// connection. The TUI polls it (it costs one pragma, no table read) and reloads its page,
  /// session dashboard or job status when it moves; its own writes it knows about already.
  public func externalChangeVersion() throws(StoreError) -> Int {
    try CaseStore.retrying(path: workspace.databasePath) {
      try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
    }
  }

  // MARK: Settings

  /// A workspace setting (for example `auto_retrain_after`), or nil.
  public func setting(_ key: String) throws(StoreError) -> String? {
    try read { db in try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key])
    }
  }

  /// Sets a workspace setting; every process sees it on its next read.
  public func setSetting(_ key: String, _ value: String) throws(StoreError) {
    try write { db in
      try db.execute(
        sql:
          "INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        arguments: [key, value])
    }
  }

  /// The directory relative case paths are resolved against, if one was stated.
  public func imageRoot() throws(StoreError) -> String? { try setting("image_root") }

  // MARK: Label schema persistence

  static func writeLabelSchema(_ schema: LabelSchema, _ db: Database) throws {
    for (i, c) in schema.classes.enumerated() {
      try db.execute(
        sql:
          "INSERT INTO label_class (position, name, key, letter, group_name, aliases) VALUES (?, ?, ?, ?, ?, ?)",
        arguments: [i, c.name, c.key, c.letter, c.group, jsonString(c.aliases)])
    }
    try db.execute(
      sql: "INSERT INTO setting (key, value) VALUES ('label_schema', ?), ('label_groups', ?)",
      arguments: [schema.name, jsonString(schema.groups)])
  }

  static func readLabelSchema(_ db: Database) throws -> LabelSchema {
    let name =
      try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = 'label_schema'") ?? "custom"
    let groupsJSON =
      try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = 'label_groups'") ?? "[]"
    let rows = try Row.fetchAll(
      db, sql: "SELECT name, key, letter, group_name, aliases FROM label_class ORDER BY position")
    let classes = rows.map { r in
      LabelSchema.LabelClass(
        name: r["name"], key: r["key"], letter: r["letter"], group: r["group_name"],
        aliases: decodeJSON([String].self, r["aliases"]) ?? [])
    }
    return LabelSchema(name: name, classes: classes, groups: decodeJSON([String].self, groupsJSON) ?? [])
  }

  /// The canonical class name for `text` (exact, case-insensitive or alias), or a typed error
  /// listing the valid names.
  public func canonicalLabel(_ text: String) throws(StoreError) -> String {
    guard let c = labelSchema.resolve(text) else {
      throw .unknownLabel(text, valid: labelSchema.classNames)
    }
    return c.name
  }

  // MARK: Time and JSON helpers

  /// UTC timestamps as `2025-01-31T12:34:56.789Z`: sortable as text, readable in exports.
  public static func timestamp(_ date: Date) -> String {
    var t = time_t(date.timeIntervalSince1970.rounded(.down))
    var tmv = tm()
    gmtime_r(&t, &tmv)
    let ms = Int((date.timeIntervalSince1970 - Double(t)) * 1000) % 1000
    return String(
      format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1,
      Int(tmv.tm_mday), Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec), ms)
  }

  static func date(_ text: String?) -> Date? {
    guard let text, text.count >= 19 else { return nil }
    let u = Array(text.utf8)
    func num(_ a: Int, _ n: Int) -> Int? {
      var v = 0
      for i in a..<(a + n) {
        guard i < u.count, u[i] >= 48, u[i] <= 57 else { return nil }
        v = v * 10 + Int(u[i] - 48)
      }
      return v
    }
    guard let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2),
      let s = num(17, 2)
    else { return nil }
    var tmv = tm()
    tmv.tm_year = Int32(y - 1900)
    tmv.tm_mon = Int32(mo - 1)
    tmv.tm_mday = Int32(d)
    tmv.tm_hour = Int32(h)
    tmv.tm_min = Int32(mi)
    tmv.tm_sec = Int32(s)
    let secs = timegm(&tmv)
    let ms = num(20, 3) ?? 0
    return Date(timeIntervalSince1970: Double(secs) + Double(ms) / 1000)
  }

  static func jsonString<T: Encodable>(_ value: T) -> String {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys]
    return String(decoding: (try? enc.encode(value)) ?? Data("null".utf8), as: UTF8.self)
  }

  static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String?) -> T? {
    guard let text else { return nil }
    return try? JSONDecoder().decode(type, from: Data(text.utf8))
  }
}

/// A JSON value for free-form fields (model metrics, configurations, job triggers).
public enum JSONValue: Codable, Sendable, Equatable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  public init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      self = .null
    } else if let b = try? c.decode(Bool.self) {
      self = .bool(b)
    } else if let n = try? c.decode(Double.self) {
      self = .number(n)
    } else if let s = try? c.decode(String.self) {
      self = .string(s)
    } else if let a = try? c.decode([JSONValue].self) {
      self = .array(a)
    } else {
      self = .object(try c.decode([String: JSONValue].self))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .null: try c.encodeNil()
    case .bool(let b): try c.encode(b)
    case .number(let n): try c.encode(n)
    case .string(let s): try c.encode(s)
    case .array(let a): try c.encode(a)
    case .object(let o): try c.encode(o)
    }
  }

  /// The number at `key` of an object, if any (`metrics["macro_f1"]`).
  public subscript(key: String) -> JSONValue? {
    if case .object(let o) = self { return o[key] }
    return nil
  }

  public var doubleValue: Double? {
    if case .number(let n) = self { return n }
    return nil
  }
}
