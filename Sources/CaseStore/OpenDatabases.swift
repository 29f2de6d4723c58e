import Foundation

/// The workspace databases this process has open through a `CaseStore`, by device and inode.
///
/// POSIX advisory locks belong to a process and a file, not to a descriptor: closing *any*
/// descriptor of the database file drops every lock the process holds on it, including those
/// of SQLite connections that are still open (SQLite's "How To Corrupt An SQLite Database
/// File", §2.2). Another process then believes nobody else is connected, checkpoints and
/// resets the write-ahead log under our connections, and they read pages that no longer
/// match: "database disk image is malformed". `Workspace.preflight` reads the file's header
/// and probes it for writing with plain open/close before SQLite opens it; it must skip those
/// raw checks when this process already has the database open (a second `CaseStore` on the
/// same workspace: tests, or a background job with its own store). The file was checked when
/// it was first opened, and SQLite itself never closes a descriptor while its locks are held.
final class OpenDatabases: @unchecked Sendable {
  static let shared = OpenDatabases()

  struct FileID: Hashable {
    var device: UInt64
    var inode: UInt64
  }

  private let lock = NSLock()
  private var open: [FileID: Set<ObjectIdentifier>] = [:]

  static func fileID(_ path: String) -> FileID? {
    var s = stat()
    guard stat(path, &s) == 0 else { return nil }
    return FileID(device: UInt64(s.st_dev), inode: UInt64(s.st_ino))
  }

  /// Whether a `CaseStore` of this process has the file at `path` open.
  func isOpen(_ path: String) -> Bool {
    guard let id = OpenDatabases.fileID(path) else { return false }
    lock.lock()
    defer { lock.unlock() }
    return !(open[id]?.isEmpty ?? true)
  }

  func opened(_ id: FileID, by store: ObjectIdentifier) {
    lock.lock()
    defer { lock.unlock() }
    open[id, default: []].insert(store)
  }

  func closed(_ id: FileID, by store: ObjectIdentifier) {
    lock.lock()
    defer { lock.unlock() }
    open[id]?.remove(store)
    if open[id]?.isEmpty == true { open[id] = nil }
  }
}
