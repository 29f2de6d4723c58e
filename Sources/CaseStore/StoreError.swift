import Foundation
import GRDB

/// Everything that can go wrong in the case store, each with a message that names the file,
/// value or record and says what is wrong. No SQLite error text ("database is locked",
/// "constraint failed") reaches a user without this translation.
public enum StoreError: Error, CustomStringConvertible, Equatable, Sendable {
  /// No workspace at that directory (no database file).
  case workspaceMissing(String)
  /// `init` on a directory that already holds a workspace.
  case workspaceExists(String)
  /// The file exists but is not an SQLite database (it is left untouched).
  case notADatabase(String)
  /// An SQLite database, but not one BlastView made.
  case notABlastViewDatabase(String)
  /// Made by a newer BlastView: migrations this build does not know.
  case newerSchema(path: String, unknownMigrations: [String])
  /// The workspace directory or database cannot be written.
  case readOnly(String)
  /// The disk (or a quota or file-size limit) is full; nothing was written.
  case diskFull(String)
  /// The database file is damaged (SQLite reported SQLITE_CORRUPT or SQLITE_NOTADB on a file
  /// that began as a database, a check failed, or the schema itself reads back wrong): `path`
  /// is the damaged file, `detail` what showed it.
  case corrupt(path: String, detail: String)
  /// Another process held the database for longer than the retry budget.
  case busy(String)
  /// A file could not be read or written.
  case io(path: String, reason: String)

  case unknownCase(String)
  case ambiguousCase(String, matches: [Int64])
  case unknownLabel(String, valid: [String])
  case unknownRater(String)
  case unknownSession(String)
  case sessionExists(String)
  case sessionClosed(String)
  case raterNotInSession(rater: String, session: String)
  case caseNotInSession(caseID: Int64, session: String)
  case notSessionCreator(rater: String, session: String)
  case maskSizeMismatch(caseID: Int64, expected: String, got: String)
  case nothingToRecord
  case notAdjudicator(String)
  case unknownModel(Int64)
  case modelFileMismatch(version: Int64, path: String)
  case unknownJob(Int64)
  case trainingJobActive(Int64)
  /// Another live trainer holds the workspace's trainer lock (its pid, host and purpose).
  case trainerBusy(String)
  case invalidLabelSchema(path: String, reason: String)
  case invalidInput(String)
  /// Any other SQLite failure, with SQLite's own message.
  case database(String)

  public var description: String {
    switch self {
    case .workspaceMissing(let p):
      return "no BlastView workspace at \(p) (create one with `blastview init --workspace \(p)`)"
    case .workspaceExists(let p): return "a workspace already exists at \(p); it was left as it is"
    case .notADatabase(let p):
      return "\(p) is not an SQLite database (it was not opened and is left untouched)"
    case .notABlastViewDatabase(let p):
      return "\(p) is an SQLite database but not a BlastView workspace (left untouched)"
    case .newerSchema(let p, let unknown):
      return "\(p) was written by a newer BlastView (schema migrations \(unknown.joined(separator: ", ")) "
        + "are unknown to this version); upgrade BlastView. The workspace was left untouched"
    case .readOnly(let p):
      return "\(p) is read-only: BlastView needs to write there to record annotations safely "
        + "(check permissions or the mount); nothing was changed"
    case .diskFull(let p):
      return "the disk holding \(p) is full; nothing was written, and nothing saved was lost"
    case .corrupt(let p, let m):
      return "the workspace database \(p) is damaged (\(m)); nothing was written. Restore the last "
        + "backup with `blastview restore BACKUP.db` (the damaged file is kept aside), "
        + "then redo the work done since that backup"
    case .busy(let p):
      return
        "the workspace \(p) stayed locked by another process for too long; nothing was written, try again"
    case .io(let p, let r): return "\(p): \(r)"
    case .unknownCase(let c):
      return "no case matches \"\(c)\" (give a case id, an image path or a SHA-256 prefix)"
    case .ambiguousCase(let c, let m):
      return "\"\(c)\" matches several cases (\(m.prefix(8).map(String.init).joined(separator: ", "))"
        + (m.count > 8 ? ", ..." : "") + "); give more of the SHA-256 or the case id"
    case .unknownLabel(let l, let valid):
      return "unknown label \"\(l)\"; this workspace's labels are \(valid.joined(separator: ", "))"
    case .unknownRater(let r): return "no rater named \"\(r)\""
    case .unknownSession(let s): return "no session named \"\(s)\""
    case .sessionExists(let s): return "a session named \"\(s)\" already exists"
    case .sessionClosed(let s): return "session \"\(s)\" is closed and read-only"
    case .raterNotInSession(let r, let s): return "rater \"\(r)\" is not a rater of session \"\(s)\""
    case .caseNotInSession(let c, let s): return "case \(c) is not in session \"\(s)\""
    case .notSessionCreator(let r, let s):
      return "only the creator of session \"\(s)\" may close it, not \"\(r)\""
    case .maskSizeMismatch(let c, let e, let g): return "mask for case \(c) is \(g), but the image is \(e)"
    case .nothingToRecord: return "nothing to record: give a label, a mask, or something to clear"
    case .notAdjudicator(let r): return "rater \"\(r)\" does not have the adjudicator role"
    case .unknownModel(let v): return "no model version \(v) in the registry"
    case .modelFileMismatch(let v, let p):
      return "model version \(v): \(p) is missing or its SHA-256 differs from the registry; it was not used"
    case .unknownJob(let j): return "no training job \(j)"
    case .trainingJobActive(let j): return "training job \(j) is already queued or running in this workspace"
    case .trainerBusy(let holder):
      return "another trainer holds this workspace's trainer lock: \(holder); one trainer per workspace"
    case .invalidLabelSchema(let p, let r): return "label schema \(p): \(r)"
    case .invalidInput(let m): return m
    case .database(let m): return "database error: \(m)"
    }
  }
}

extension StoreError {
  /// Translates an error thrown inside a database access into a `StoreError`, keeping
  /// `StoreError`s thrown by our own validation as they are.
  static func from(_ error: any Error, path: String) -> StoreError {
    if let e = error as? StoreError { return e }
    if let e = error as? DatabaseError {
      switch e.resultCode {
      case .SQLITE_FULL: return .diskFull(path)
      case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN: return .readOnly(path)
      // NOTADB after the 16-byte header was checked (`Workspace.preflight`) means the file's
      // own header page is damaged, not that someone pointed us at a foreign file.
      case .SQLITE_NOTADB, .SQLITE_CORRUPT, .SQLITE_FORMAT:
        return .corrupt(path: path, detail: damageDetail(e))
      case .SQLITE_BUSY, .SQLITE_LOCKED: return .busy(path)
      case .SQLITE_ERROR where isSchemaDamage(e):
        // Our own schema is fixed by the migrations: a missing table or column means the
        // sqlite_schema page was damaged, not that the user did something wrong.
        return .corrupt(path: path, detail: damageDetail(e))
      case .SQLITE_IOERR:
        // SQLite reports ENOSPC/EFBIG during a write as an I/O error on some paths.
        if [ENOSPC, EFBIG, EDQUOT].contains(errno) { return .diskFull(path) }
        return .io(path: path, reason: e.message ?? "I/O error")
      default: return .database(e.message ?? "\(e.resultCode)")
      }
    }
    return .database(String(describing: error))
  }

  /// SQLite's message, filtered (it can quote bytes of the damaged page).
  private static func damageDetail(_ e: DatabaseError) -> String {
    DamageCheck.filtered(e.message ?? "\(e.resultCode)")
  }

  /// "no such table/column", "malformed database schema": the SQL is ours and was migrated, so
  /// these only happen when the schema page no longer says what the migrations wrote.
  private static func isSchemaDamage(_ e: DatabaseError) -> Bool {
    let m = (e.message ?? "").lowercased()
    return m.hasPrefix("no such table") || m.hasPrefix("no such column") || m.contains("malformed")
      || m.hasPrefix("no such index")
  }

  /// Whether this error says the database file is damaged.
  public var isDamage: Bool {
    if case .corrupt = self { return true }
    return false
  }

  /// A failure to write a file (full disk, read-only, I/O), as opposed to a lock or a bad value.
  var isTargetFailure: Bool {
    switch self {
    case .diskFull, .readOnly, .io: return true
    default: return false
    }
  }

  /// The same failure, naming `path` (the file being written) instead.
  func naming(_ path: String) -> StoreError {
    switch self {
    case .diskFull: return .diskFull(path)
    case .readOnly: return .readOnly(path)
    case .io(_, let reason): return .io(path: path, reason: reason)
    default: return self
    }
  }

  var isBusy: Bool {
    if case .busy = self { return true }
    return false
  }
}
