import CPQ
import Foundation

/// A value bound to a query parameter. Values only ever travel as parameters of
/// `PQexecParams`, never inside the SQL text, so no name, label or note can change a query.
public enum PGValue: Sendable, Equatable {
  case text(String)
  case int(Int64)
  case double(Double)
  case bool(Bool)
  /// Sent in binary as `bytea` (images, masks, model files), so large blobs are not
  /// hex-encoded on the way in.
  case bytes([UInt8])
  case null

  public static func optional(_ s: String?) -> PGValue { s.map { .text($0) } ?? .null }
  public static func optional(_ i: Int64?) -> PGValue { i.map { .int($0) } ?? .null }
}

/// One result row, in libpq's text format.
public struct PGRow: Sendable {
  let names: [String]
  let values: [String?]

  func index(_ name: String) -> Int? { names.firstIndex(of: name) }

  public subscript(_ i: Int) -> String? { values[i] }
  public subscript(_ name: String) -> String? { index(name).flatMap { values[$0] } }

  public func string(_ name: String) -> String? { self[name] }
  public func int(_ name: String) -> Int64? { self[name].flatMap { Int64($0) } }
  public func double(_ name: String) -> Double? { self[name].flatMap { Double($0) } }
  /// PostgreSQL's text form of a boolean is `t` or `f`.
  public func bool(_ name: String) -> Bool? { self[name].map { $0 == "t" || $0 == "true" } }
  /// A `bytea` column in the default hex output (`\x0a1b...`).
  public func bytes(_ name: String) -> [UInt8]? { self[name].flatMap(PGConnection.decodeByteaHex) }
  /// A timestamp the functions return as seconds since 1970 (`extract(epoch ...)`).
  public func date(_ name: String) -> Date? { double(name).map { Date(timeIntervalSince1970: $0) } }
}

/// A small synchronous client over libpq (PostgreSQL's own C library), like GRDB is over
/// SQLite: one connection, one query at a time, parameterised queries only.
///
/// The target is a libpq connection string or URL, passed to libpq as it is, so every libpq
/// convention works: peer authentication over the Unix socket
/// (`postgresql:///blastview?host=/var/run/postgresql`), `~/.pgpass`, `PGSERVICE` and
/// service files, `sslmode`, `PGHOST` and the other environment variables.
public final class PGConnection: @unchecked Sendable {
  /// Guards `conn`: libpq connections must not be used by two threads at once. Recursive so
  /// a transaction's body can run queries on the thread that holds it.
  private let lock = NSRecursiveLock()
  private let conn: OpaquePointer
  /// The target with any password removed, for messages.
  public let displayTarget: String
  private var inTransaction = false

  /// Connects; a failure names the target (without its password) and libpq's reason.
  /// `database`, when given, replaces the target's database name and keeps everything else
  /// (host, user, TLS, password file): the benchmark's scratch database on the same server.
  public init(_ target: String, database: String? = nil) throws(StoreError) {
    displayTarget = PGConnection.redact(target) + (database.map { " (database \($0))" } ?? "")
    // Keywords before `dbname` are defaults the target may override (expand_dbname = 1);
    // libpq expands only the first `dbname`, so a second one is a plain database name.
    let keys = ["application_name", "connect_timeout", "dbname"] + (database == nil ? [] : ["dbname"])
    let values = ["blastview", "10", target] + (database.map { [$0] } ?? [])
    let c: OpaquePointer? = withCStringArray(keys) { k in
      withCStringArray(values) { v in PQconnectdbParams(k, v, 1) }
    }
    guard let c else { throw .database("cannot connect to \(displayTarget): out of memory") }
    guard PQstatus(c) == CONNECTION_OK else {
      let reason = String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
      PQfinish(c)
      throw .database("cannot connect to the PostgreSQL database \(displayTarget): \(reason)")
    }
    // Server NOTICEs (e.g. "relation already exists, skipping") are not for the user.
    PQsetNoticeProcessor(c, { _, _ in }, nil)
    conn = c
  }

  deinit { PQfinish(conn) }

  /// Runs one statement with its parameters ($1, $2, ...) and returns its rows.
  @discardableResult
  public func query(_ sql: String, _ params: [PGValue] = []) throws(StoreError) -> [PGRow] {
    lock.lock()
    defer { lock.unlock() }
    let result = runParams(sql, params)
    defer { PQclear(result) }
    try check(result)
    let nRows = Int(PQntuples(result))
    let nCols = Int(PQnfields(result))
    let names = (0..<nCols).map { String(cString: PQfname(result, Int32($0))) }
    var rows: [PGRow] = []
    rows.reserveCapacity(nRows)
    for r in 0..<nRows {
      var values: [String?] = []
      values.reserveCapacity(nCols)
      for f in 0..<nCols {
        if PQgetisnull(result, Int32(r), Int32(f)) != 0 {
          values.append(nil)
        } else {
          values.append(String(cString: PQgetvalue(result, Int32(r), Int32(f))))
        }
      }
      rows.append(PGRow(names: names, values: values))
    }
    return rows
  }

  /// Runs a constant script of several statements (a migration). Only for SQL written in
  /// this package (internal to CaseStore): it takes no parameters, so nothing a user typed
  /// can reach it.
  func executeScript(_ sql: String) throws(StoreError) {
    lock.lock()
    defer { lock.unlock() }
    let result = PQexec(conn, sql)
    defer { PQclear(result) }
    try check(result)
  }

  /// Runs `body` in one transaction: committed when it returns (the write is then durable
  /// on the server), rolled back when it throws. A serialization failure or deadlock
  /// (SQLSTATE 40001/40P01) retries the whole body, up to 20 times.
  @discardableResult
  public func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
    lock.lock()
    defer { lock.unlock() }
    precondition(!inTransaction, "nested PostgreSQL transaction")
    var attempt = 0
    while true {
      attempt += 1
      try query("BEGIN ISOLATION LEVEL READ COMMITTED")
      inTransaction = true
      do {
        let value = try body()
        inTransaction = false
        try query("COMMIT")
        return value
      } catch {
        inTransaction = false
        _ = try? query("ROLLBACK")
        if case .busy = error, attempt < 20 {
          usleep(UInt32.random(in: 1_000...20_000))
          continue
        }
        throw error
      }
    }
  }

  private func runParams(_ sql: String, _ params: [PGValue]) -> OpaquePointer? {
    var types: [Oid] = []
    var formats: [Int32] = []
    var lengths: [Int32] = []
    var buffers: [[CChar]?] = []
    for p in params {
      switch p {
      case .null:
        types.append(0)
        formats.append(0)
        lengths.append(0)
        buffers.append(nil)
      case .bytes(let b):
        types.append(17)  // bytea
        formats.append(1)
        lengths.append(Int32(b.count))
        buffers.append(b.map { CChar(bitPattern: $0) })
      default:
        types.append(0)
        formats.append(0)
        lengths.append(0)
        buffers.append(Array(PGConnection.text(p).utf8CString))
      }
    }
    return withPointers(buffers) { ptrs in
      PQexecParams(conn, sql, Int32(params.count), types, ptrs, lengths, formats, 0)
    }
  }

  private static func text(_ v: PGValue) -> String {
    switch v {
    case .text(let s): return s
    case .int(let i): return String(i)
    case .double(let d): return String(d)
    case .bool(let b): return b ? "true" : "false"
    case .bytes, .null: return ""
    }
  }

  /// Maps a failed result to a `StoreError` that names the server's message. BlastView's own
  /// functions raise SQLSTATE class `BV` with the value in DETAIL (and a second one in HINT),
  /// so they become the same `StoreError`s the SQLite store throws.
  private func check(_ result: OpaquePointer?) throws(StoreError) {
    guard let result else {
      throw .database(
        "the PostgreSQL server at \(displayTarget) did not answer: "
          + String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines))
    }
    let status = PQresultStatus(result)
    if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK { return }
    func field(_ code: Int32) -> String? {
      guard let p = PQresultErrorField(result, code) else { return nil }
      return String(cString: p)
    }
    let state = field(bv_pg_diag_sqlstate()) ?? ""
    let message =
      field(bv_pg_diag_message_primary())
      ?? String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
    let detail = field(bv_pg_diag_message_detail()) ?? ""
    let hint = field(bv_pg_diag_message_hint()) ?? ""
    throw PGConnection.storeError(
      state: state, message: message, detail: detail, hint: hint, target: displayTarget)
  }

  static func storeError(state: String, message: String, detail: String, hint: String, target: String)
    -> StoreError
  {
    switch state {
    case "BV001": return .unknownSession(detail)
    case "BV002": return .sessionExists(detail)
    case "BV003": return .sessionClosed(detail)
    case "BV004": return .raterNotInSession(rater: detail, session: hint)
    case "BV005": return .caseNotInSession(caseID: Int64(detail) ?? -1, session: hint)
    case "BV006": return .notSessionCreator(rater: detail, session: hint)
    case "BV007": return .unknownCase(detail)
    case "BV008": return .nothingToRecord
    case "BV009": return .notAdjudicator(detail)
    case "BV010": return .unknownRater(detail)
    case "BV011": return .ambiguousCase(hint, matches: detail.split(separator: ",").compactMap { Int64($0) })
    case "BV012":
      let sizes = hint.split(separator: "|").map(String.init)
      return .maskSizeMismatch(
        caseID: Int64(detail) ?? -1, expected: sizes.first ?? "", got: sizes.count > 1 ? sizes[1] : "")
    case "BV030": return .unknownModel(Int64(detail) ?? -1)
    case "BV031": return .modelFileMismatch(version: Int64(detail) ?? -1, path: hint)
    case "BV040": return .database(hint.isEmpty ? message : "\(message) (\(hint))")
    case "40001", "40P01": return .busy(target)
    case "53100": return .diskFull(target)
    case "23514" where message.contains("mask_png_matches_size"):
      return .invalidInput(
        "the mask's PNG does not state the size it was sent with (its header must give the image's width and height)"
      )
    case "23514" where message.contains("note_length") || message.contains("reason_length"):
      return .invalidInput("a note or reason may be at most \(TextLimits.maxBytes) bytes")
    case "42501": return .database("permission denied by PostgreSQL: \(message)")
    default:
      if state.hasPrefix("BV") { return .invalidInput(message) }
      if state.hasPrefix("08") || state.hasPrefix("57P") {
        return .database("lost the connection to \(target): \(message); nothing unacknowledged was kept")
      }
      return .database(message)
    }
  }

  /// libpq's hex `bytea` text (`\x` then two hex digits a byte).
  static func decodeByteaHex(_ s: String) -> [UInt8]? {
    var u = Array(s.utf8)
    guard u.count >= 2, u[0] == UInt8(ascii: "\\"), u[1] == UInt8(ascii: "x"), u.count % 2 == 0 else {
      return nil
    }
    u.removeFirst(2)
    func nibble(_ c: UInt8) -> UInt8? {
      switch c {
      case 48...57: return c - 48
      case 97...102: return c - 87
      case 65...70: return c - 55
      default: return nil
      }
    }
    var out = [UInt8]()
    out.reserveCapacity(u.count / 2)
    var i = 0
    while i < u.count {
      guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
      out.append(hi << 4 | lo)
      i += 2
    }
    return out
  }

  /// The target for messages: a URL's password (`user:secret@`) and a `password=` keyword
  /// are replaced by `***`.
  static func redact(_ target: String) -> String {
    var t = target
    if let scheme = t.range(of: "://"), let at = t[scheme.upperBound...].firstIndex(of: "@") {
      let userinfo = t[scheme.upperBound..<at]
      if let colon = userinfo.firstIndex(of: ":") {
        t.replaceSubrange(t.index(after: colon)..<at, with: "***")
      }
    }
    if let r = t.range(of: #"password\s*=\s*('[^']*'|\S+)"#, options: .regularExpression) {
      t.replaceSubrange(r, with: "password=***")
    }
    if let r = t.range(of: #"([?&])password=[^&]*"#, options: .regularExpression) {
      let sep = t[r].first!
      t.replaceSubrange(r, with: "\(sep)password=***")
    }
    return t
  }
}

/// Calls `body` with a NULL-terminated array of C strings.
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R)
  -> R
{
  let buffers = strings.map { Array($0.utf8CString) }
  return withPointers(buffers.map { Optional($0) }) { ptrs in
    var terminated = ptrs
    terminated.append(nil)
    return terminated.withUnsafeBufferPointer { body($0.baseAddress!) }
  }
}

/// Pins every buffer and calls `body` with their base addresses (nil stays nil).
private func withPointers<R>(_ buffers: [[CChar]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
  func go(_ i: Int, _ acc: inout [UnsafePointer<CChar>?]) -> R {
    if i == buffers.count { return body(acc) }
    guard let b = buffers[i] else {
      acc.append(nil)
      return go(i + 1, &acc)
    }
    return b.withUnsafeBufferPointer { p in
      acc.append(p.baseAddress)
      return go(i + 1, &acc)
    }
  }
  var acc: [UnsafePointer<CChar>?] = []
  acc.reserveCapacity(buffers.count)
  return go(0, &acc)
}
