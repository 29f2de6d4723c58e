import Foundation
import GRDB

/// Telling a damaged workspace database from a foreign, newer or merely wrong one (issue 15,
/// item 8). A flipped byte can surface as anything, from "no such column" to "written by a newer
/// BlastView"; the advice for all of them is the same: the file is damaged, restore a backup.
///
/// - `quick`: `PRAGMA quick_check` on every open. It reads every page and checks the b-tree
///   structure, record formats and freelist, but not that indexes match their tables; measured
///   in docs/casestore.md ("Damage and restore").
/// - `full`: `PRAGMA integrity_check`, which also compares every index with its table. Run where
///   a wrong answer would otherwise follow (before calling a workspace newer or foreign, before a
///   "no case matches"), by `doctor --workspace` and on a backup before `restore` uses it.
enum DamageCheck {
  /// At most this many problems are quoted; one is enough to know the file is damaged.
  static let quoted = 3

  /// Up to this size the full check runs on every open (about 0.25 s of CPU at the limit), up
  /// to `quickCheckLimit` the quick one (about 0.6 s at the limit); above, only `doctor`, restore
  /// and the not-found paths check. Measured on a 100,000-case workspace of 86 MB:
  /// quick_check 0.2 s, integrity_check 1.3 s of CPU (docs/casestore.md, "Damage and restore").
  static let fullCheckLimit: Int64 = 16 << 20
  static let quickCheckLimit: Int64 = 256 << 20

  /// The check a workspace gets when it is opened, by the size of its file.
  static func onOpen(_ db: Database, path: String) throws {
    var st = stat()
    let size = stat(path, &st) == 0 ? Int64(st.st_size) : 0
    if size <= fullCheckLimit {
      try full(db, path: path)
    } else if size <= quickCheckLimit {
      try quick(db, path: path)
    }
  }

  static func quick(_ db: Database, path: String) throws {
    try check(db, pragma: "quick_check", path: path)
  }

  static func full(_ db: Database, path: String) throws {
    try check(db, pragma: "integrity_check", path: path)
  }

  /// The problems `PRAGMA integrity_check` finds (empty when the file is sound).
  static func problems(_ db: Database, full: Bool = true) throws -> [String] {
    let rows = try String.fetchAll(db, sql: "PRAGMA \(full ? "integrity_check" : "quick_check")(\(quoted))")
    return rows == ["ok"] ? [] : rows
  }

  private static func check(_ db: Database, pragma: String, path: String) throws {
    let rows: [String]
    do {
      rows = try String.fetchAll(db, sql: "PRAGMA \(pragma)(\(quoted))")
    } catch let e as DatabaseError {
      throw StoreError.corrupt(
        path: path, detail: "\(pragma) could not read it: \(e.message ?? "\(e.resultCode)")")
    }
    guard rows == ["ok"] else {
      throw StoreError.corrupt(path: path, detail: filtered(rows.joined(separator: "; ")))
    }
  }

  /// A database whose `application_id` is not ours but which holds our migrations table with our
  /// first migration is one of ours with a damaged header, not a foreign file.
  static func foreignOrDamaged(_ db: Database, path: String) throws {
    let ours =
      (try? Bool.fetchOne(
        db, sql: "SELECT EXISTS (SELECT 1 FROM grdb_migrations WHERE identifier = 'v1-workspace')")) ?? nil
    if ours == true {
      throw StoreError.corrupt(path: path, detail: "its header no longer carries BlastView's application id")
    }
  }

  /// `integrity_check` through a read-only connection of its own.
  static func readOnlyProblems(_ path: String) throws -> [String] {
    let queue = try DatabaseQueue(path: path, configuration: CaseStore.configuration(readonly: true))
    let result = Result { try queue.read { db in try problems(db).map(filtered) } }
    try? queue.close()
    return try result.get()
  }

  /// Checker output and SQLite messages can quote damaged bytes: no control character passes.
  static func filtered(_ s: String) -> String {
    String(
      String.UnicodeScalarView(
        s.unicodeScalars.map { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) ? "?" : $0 }))
  }
}

extension CaseStore {
  /// `PRAGMA integrity_check` on the workspace database: the problems found (at most a few),
  /// empty when it is sound. `doctor --workspace` reports it.
  public func integrityProblems() throws(StoreError) -> [String] {
    try read { db in try DamageCheck.problems(db).map(DamageCheck.filtered) }
  }

  /// Turns a "not found" answer into a damage report when the database is damaged: an index
  /// that no longer matches its table makes a lookup miss a case that exists.
  func confirmNotDamaged(_ answer: StoreError) -> StoreError {
    do {
      let problems = try read { db in try DamageCheck.problems(db) }
      if !problems.isEmpty {
        return .corrupt(
          path: workspace.databasePath, detail: DamageCheck.filtered(problems.joined(separator: "; ")))
      }
    } catch {
      return error
    }
    return answer
  }
}

extension Workspace {
  /// `PRAGMA integrity_check` on the workspace database, opened read-only so that checking
  /// changes nothing (no migration, no WAL switch): the problems found, empty when it is
  /// sound, nil when there is no database yet. `doctor --workspace` reports it.
  public func integrityCheck() throws(StoreError) -> [String]? {
    guard FileManager.default.fileExists(atPath: databasePath) else { return nil }
    guard let handle = FileHandle(forReadingAtPath: databasePath) else {
      throw .io(path: databasePath, reason: "cannot be read (\(String(cString: strerror(errno))))")
    }
    let header = (try? handle.read(upToCount: 16)) ?? Data()
    try? handle.close()
    guard header == Data("SQLite format 3\0".utf8) else {
      // A file that began as ours but lost its header is damage; anything else is foreign.
      if header.count == 16 && header.starts(with: Data("SQLite".utf8)) {
        return ["the 16-byte SQLite header is damaged"]
      }
      throw .notADatabase(databasePath)
    }
    do {
      return try DamageCheck.readOnlyProblems(databasePath)
    } catch let e as DatabaseError
      where [ResultCode.SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_FORMAT].contains(e.resultCode)
    {
      return [DamageCheck.filtered(e.message ?? "\(e.resultCode)")]
    } catch {
      throw StoreError.from(error, path: databasePath)
    }
  }
}
