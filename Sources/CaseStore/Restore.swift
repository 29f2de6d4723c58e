import Foundation
import GRDB

/// `blastview restore BACKUP.db`: puts a backup in place of the workspace database (issue 15,
/// item 8).
///
/// The backup is checked before anything changes: an SQLite file with BlastView's application
/// id, no migration this build does not know, `PRAGMA integrity_check` clean. It never replaces
/// a database that is newer (a migration the backup lacks, or a later annotation) unless
/// `force` is given; a damaged current database whose newness cannot be read counts as older.
/// The copy is written to an exclusively created temporary file in the workspace directory
/// (O_CREAT|O_EXCL|O_NOFOLLOW), flushed, checked again, and renamed into place; the replaced
/// database (with its `-wal` and `-shm`) is kept aside as `blastview.db.replaced-<time>`, never
/// deleted. Other BlastView processes on the workspace must be stopped first (a process that
/// still has the replaced file open keeps writing there, into the file kept aside).
public enum Restore {
  public struct Report: Sendable, Equatable {
    /// Where the replaced database now is (nil when the workspace had none).
    public var keptAside: String?
    /// Annotations in the restored database and the newest one's time.
    public var annotations: Int
    public var lastAnnotation: String?
    /// Whether `force` overrode a newer current database.
    public var forced: Bool
  }

  /// What a database holds that decides which of two is newer.
  struct Stamp {
    var migrations: Set<String>
    var annotations: Int
    var lastAnnotation: String?
    var lastAnnotationID: Int64
  }

  public static func run(backup: String, into workspace: Workspace, force: Bool) throws(StoreError) -> Report
  {
    let source = Workspace.absolute(backup)
    let target = workspace.databasePath
    guard source != target else {
      throw .invalidInput("\(source) is the workspace database itself; give a backup file")
    }
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: workspace.directory, isDirectory: &isDir), isDir.boolValue
    else { throw .workspaceMissing(workspace.directory) }
    let backupStamp = try checkedBackup(source)

    // The current database: refuse to replace a newer one unless forced.
    var forced = false
    if FileManager.default.fileExists(atPath: target) {
      if let current = readableStamp(target) {
        var newer: [String] = []
        let extra = current.migrations.subtracting(backupStamp.migrations).sorted()
        if !extra.isEmpty {
          newer.append("it has schema migrations the backup lacks (\(extra.joined(separator: ", ")))")
        }
        if current.lastAnnotationID > backupStamp.lastAnnotationID
          || (current.lastAnnotation ?? "") > (backupStamp.lastAnnotation ?? "")
        {
          newer.append(
            "its last annotation (\(current.lastAnnotation ?? "?"), \(current.annotations) in all) is newer than "
              + "the backup's (\(backupStamp.lastAnnotation ?? "none"), \(backupStamp.annotations) in all)")
        }
        if !newer.isEmpty {
          guard force else {
            throw .invalidInput(
              "the workspace database \(target) is newer than \(source): \(newer.joined(separator: "; ")). "
                + "Restoring would lose that work; nothing was changed (give --force to restore anyway; "
                + "the current database is then kept aside, not deleted)")
          }
          forced = true
        }
      }
    }

    // Copy under an exclusive temporary name, flush, check the copy itself.
    let tmp = try copyExclusively(source, into: workspace.directory)
    do {
      let copyStamp = try checkedBackup(tmp)
      guard copyStamp.lastAnnotationID == backupStamp.lastAnnotationID else {
        throw StoreError.io(path: source, reason: "changed while it was being restored; nothing was changed")
      }
      // Checking it read-only may leave empty -shm/-wal files; they must not follow it in.
      for suffix in ["-wal", "-shm"] { unlink(tmp + suffix) }
    } catch {
      unlinkAll(tmp)
      throw StoreError.from(error, path: tmp)
    }

    // Keep the replaced database aside (with its log: it must never be applied to the backup).
    var aside: String? = nil
    if FileManager.default.fileExists(atPath: target) {
      let name = target + ".replaced-" + stampForFileName(Date())
      guard rename(target, name) == 0 else {
        let e = errno
        unlinkAll(tmp)
        throw Workspace.classifyWriteFailure(path: target, errno: Int(e))
      }
      for suffix in ["-wal", "-shm", "-journal"] where FileManager.default.fileExists(atPath: target + suffix)
      {
        if rename(target + suffix, name + suffix) != 0 { unlink(target + suffix) }
      }
      aside = name
    }
    guard rename(tmp, target) == 0 else {
      let e = errno
      if let aside { _ = rename(aside, target) }
      unlinkAll(tmp)
      throw Workspace.classifyWriteFailure(path: target, errno: Int(e))
    }
    syncDirectory(workspace.directory)
    return Report(
      keptAside: aside, annotations: backupStamp.annotations, lastAnnotation: backupStamp.lastAnnotation,
      forced: forced)
  }

  /// Opens `path` read-only and checks it is a sound BlastView database this build can use.
  static func checkedBackup(_ path: String) throws(StoreError) -> Stamp {
    var st = stat()
    guard lstat(path, &st) == 0 else {
      throw .io(path: path, reason: "cannot be read (\(String(cString: strerror(errno))))")
    }
    guard (st.st_mode & 0o170000) == 0o100000 else {  // S_ISREG
      throw .io(path: path, reason: "is not a regular file (a symbolic link, directory or device is refused)")
    }
    // A log with content means the file is in use or was copied mid-write; an empty one is what
    // an earlier read-only look (ours included) leaves behind.
    for suffix in ["-wal", "-journal"] where fileSize(path + suffix) > 0 {
      throw .invalidInput(
        "\(path) has a \(suffix) file beside it: it is in use or was copied while in use; "
          + "make backups with `blastview backup`")
    }
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw .io(path: path, reason: "cannot be read (\(String(cString: strerror(errno))))")
    }
    let header = (try? handle.read(upToCount: 16)) ?? Data()
    try? handle.close()
    guard header == Data("SQLite format 3\0".utf8) else { throw .notADatabase(path) }
    // Reading a WAL-mode file read-only creates empty -wal and -shm files it cannot remove:
    // remove the ones this look created, so the backup's folder is left as it was.
    let created = ["-wal", "-shm"].filter { !FileManager.default.fileExists(atPath: path + $0) }
    let outcome: Result<Stamp, StoreError>
    do {
      outcome = .success(try inspect(path))
    } catch {
      outcome = .failure(StoreError.from(error, path: path))
    }
    for suffix in created where fileSize(path + suffix) <= 32768 && fileSize(path + "-wal") <= 0 {
      unlink(path + suffix)
    }
    return try outcome.get()
  }

  /// The size of the file at `path`, -1 when there is none.
  static func fileSize(_ path: String) -> Int64 {
    var st = stat()
    return lstat(path, &st) == 0 ? Int64(st.st_size) : -1
  }

  /// The SQLite half of `checkedBackup` (kept apart: plain `throws`, errors mapped by the caller).
  private static func inspect(_ path: String) throws -> Stamp {
    let queue = try DatabaseQueue(path: path, configuration: CaseStore.configuration(readonly: true))
    let result = Result {
      try queue.read { db -> Stamp in
        let problems = try DamageCheck.problems(db)
        guard problems.isEmpty else {
          throw StoreError.corrupt(
            path: path,
            detail: "the backup fails integrity_check: "
              + DamageCheck.filtered(problems.joined(separator: "; ")))
        }
        guard try Int32.fetchOne(db, sql: "PRAGMA application_id") == Schema.applicationID else {
          throw StoreError.notABlastViewDatabase(path)
        }
        if try Schema.migrator.hasBeenSuperseded(db) {
          let known = Set(Schema.migrator.migrations)
          let unknown = try Schema.migrator.appliedIdentifiers(db).filter { !known.contains($0) }.sorted()
          throw StoreError.newerSchema(path: path, unknownMigrations: unknown)
        }
        return try stamp(db)
      }
    }
    try? queue.close()
    return try result.get()
  }

  static func stamp(_ db: Database) throws -> Stamp {
    let migrations = Set(try Schema.migrator.appliedIdentifiers(db))
    let row = try Row.fetchOne(
      db, sql: "SELECT count(*) AS n, max(id) AS last_id, max(created_at) AS last FROM annotation")
    return Stamp(
      migrations: migrations, annotations: row?["n"] ?? 0, lastAnnotation: row?["last"],
      lastAnnotationID: row?["last_id"] ?? 0)
  }

  /// The current database's stamp, or nil when it is too damaged to read (then it cannot be
  /// newer in any way we could show, and restoring it is the point).
  static func readableStamp(_ path: String) -> Stamp? {
    guard let queue = try? DatabaseQueue(path: path, configuration: CaseStore.configuration(readonly: true))
    else { return nil }
    let result = try? queue.read { db in try stamp(db) }
    try? queue.close()
    return result
  }

  /// Copies `source` to a new, exclusively created file in `directory` and flushes it.
  static func copyExclusively(_ source: String, into directory: String) throws(StoreError) -> String {
    let inFD = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
    guard inFD >= 0 else { throw .io(path: source, reason: String(cString: strerror(errno))) }
    defer { close(inFD) }
    var tmp = ""
    var outFD: Int32 = -1
    for _ in 0..<16 {
      tmp = directory + "/.blastview-restore-\(UInt64.random(in: 0...UInt64.max)).db"
      outFD = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
      if outFD >= 0 || errno != EEXIST { break }
    }
    guard outFD >= 0 else { throw Workspace.classifyWriteFailure(path: directory, errno: Int(errno)) }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var failure: Int32 = 0
    copying: while true {
      let n = buffer.withUnsafeMutableBytes { read(inFD, $0.baseAddress!, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        failure = errno
        break
      }
      if n == 0 { break }
      var done = 0
      while done < n {
        let w = buffer.withUnsafeBytes { write(outFD, $0.baseAddress! + done, n - done) }
        if w < 0 {
          if errno == EINTR { continue }
          failure = errno
          break copying
        }
        done += w
      }
    }
    if failure == 0 && fsync(outFD) != 0 { failure = errno }
    close(outFD)
    if failure != 0 {
      unlink(tmp)
      throw Workspace.classifyWriteFailure(path: tmp, errno: Int(failure))
    }
    return tmp
  }

  static func unlinkAll(_ path: String) {
    for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
  }

  static func syncDirectory(_ directory: String) {
    let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 {
      fsync(fd)
      close(fd)
    }
  }

  static func stampForFileName(_ date: Date) -> String {
    CaseStore.timestamp(date).replacingOccurrences(of: ":", with: "-")
  }
}
