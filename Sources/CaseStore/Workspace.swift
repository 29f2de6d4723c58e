import FileSafety
import Foundation
import GRDB

/// A workspace: a directory holding the SQLite database (`blastview.db`), registered model
/// files (`models/`) and caches (`cache/`, safe to delete).
///
/// Choosing one: `--workspace DIR`, then `$BLASTVIEW_WORKSPACE`, then `./.blastview`
/// (`Workspace.resolve`). Opening one (`Workspace.open`) refuses, without changing the file,
/// anything it cannot safely write to: a missing workspace, a file that is not SQLite, a
/// BlastView database from a newer version, a read-only directory or file.
public struct Workspace: Sendable, Equatable {
  /// Absolute, standardised directory path.
  public let directory: String

  public init(directory: String) {
    self.directory = Workspace.absolute(directory)
  }

  public static let databaseFileName = "blastview.db"
  public var databasePath: String { directory + "/" + Workspace.databaseFileName }
  /// Registered model files (`v<version>.safetensors`).
  public var modelsDirectory: String { directory + "/models" }
  /// Rebuildable caches (thumbnails, encoded images); never holds anything unique.
  public var cacheDirectory: String { directory + "/cache" }
  /// Where the TUI keeps thumbnails, one file per case SHA-256 (see `CaseRow.thumbnailPath`):
  /// in this user's own cache folder (`cache/<user>/thumbnails`), because a thumbnail is shown
  /// as the case, and another user of a shared workspace must not be able to plant one.
  public var thumbnailsDirectory: String { userCacheDirectory + "/thumbnails" }
  /// This user's caches (`cache/<user>`, checked and made 0700 by `SafeFile.privateDirectory`
  /// before anything in it is read or written).
  public var userCacheDirectory: String { cacheDirectory + "/" + SafeFile.userFolderName }

  /// The workspace for `explicit` (the `--workspace` option), else `$BLASTVIEW_WORKSPACE`,
  /// else `./.blastview` in `currentDirectory`.
  public static func resolve(
    explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
    currentDirectory: String = FileManager.default.currentDirectoryPath
  ) -> Workspace {
    let chosen: String
    if let e = explicit, !e.isEmpty {
      chosen = e
    } else if let env = environment["BLASTVIEW_WORKSPACE"], !env.isEmpty {
      chosen = env
    } else {
      chosen = ".blastview"
    }
    return Workspace(directory: chosen.hasPrefix("/") ? chosen : currentDirectory + "/" + chosen)
  }

  /// Creates a new workspace (directory, database, label schema) and opens it.
  /// Refuses a directory that already holds a workspace or any other `blastview.db`.
  public static func create(
    at directory: String, schema: LabelSchema = .all4, imageRoot: String? = nil
  ) throws(StoreError) -> CaseStore {
    let ws = Workspace(directory: directory)
    try schema.validate(source: schema.name)
    let fm = FileManager.default
    if fm.fileExists(atPath: ws.databasePath) { throw .workspaceExists(ws.directory) }
    do {
      try fm.createDirectory(atPath: ws.directory, withIntermediateDirectories: true)
    } catch {
      throw classifyWriteFailure(path: ws.directory, errno: (error as NSError).code)
    }
    try ws.requireWritable(database: false)
    do {
      // Build the database under a temporary name and rename it into place, so a crash or a
      // full disk during `init` never leaves a half-made workspace behind.
      let tmp = ws.directory + "/.blastview-init-\(getpid()).db"
      try? fm.removeItem(atPath: tmp)
      do {
        let queue = try DatabaseQueue(path: tmp, configuration: CaseStore.configuration(readonly: false))
        try Schema.migrator.migrate(queue)
        try queue.write { db in
          try CaseStore.writeLabelSchema(schema, db)
          try db.execute(
            sql: "INSERT INTO setting (key, value) VALUES ('created_at', ?), ('split_seed', ?)",
            arguments: [CaseStore.timestamp(Date()), Split.defaultSeed])
          if let root = imageRoot {
            try db.execute(
              sql: "INSERT INTO setting (key, value) VALUES ('image_root', ?)", arguments: [absolute(root)])
          }
        }
        try queue.close()
        guard rename(tmp, ws.databasePath) == 0 else {
          throw StoreError.io(path: ws.databasePath, reason: String(cString: strerror(errno)))
        }
      } catch {
        try? fm.removeItem(atPath: tmp)
        for suffix in ["-wal", "-shm", "-journal"] { try? fm.removeItem(atPath: tmp + suffix) }
        throw error
      }
      try? fm.createDirectory(atPath: ws.modelsDirectory, withIntermediateDirectories: true)
      // The creator's own cache folder (0700, see `userCacheDirectory`); others make theirs.
      if let mine = try? SafeFile.privateDirectory(in: ws.cacheDirectory) {
        try? SafeFile.makeDirectories(mine + "/thumbnails")
      }
    } catch {
      throw StoreError.from(error, path: ws.directory)
    }
    return try open(path: ws.directory)
  }

  /// Opens an existing workspace for reading and writing, upgrading an older schema.
  public static func open(path: String) throws(StoreError) -> CaseStore {
    try CaseStore(workspace: Workspace(directory: path))
  }

  // MARK: Checks before SQLite touches anything

  /// Refuses a missing database, a file that is not SQLite (by its 16-byte header), and a
  /// read-only directory or file, all before SQLite opens it.
  func preflight() throws(StoreError) {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    guard fm.fileExists(atPath: directory, isDirectory: &isDir) else { throw .workspaceMissing(directory) }
    guard isDir.boolValue else {
      // A file where the workspace directory should be: say what it is.
      throw .io(path: directory, reason: "is a file, not a workspace directory")
    }
    guard fm.fileExists(atPath: databasePath, isDirectory: &isDir) else {
      throw .workspaceMissing(directory)
    }
    guard !isDir.boolValue else { throw .notADatabase(databasePath) }
    // Already open in this process: it was checked then, and a raw close() now would drop
    // the open connections' locks (see `OpenDatabases`).
    if OpenDatabases.shared.isOpen(databasePath) { return }
    guard let handle = FileHandle(forReadingAtPath: databasePath) else {
      throw .io(path: databasePath, reason: "cannot be read (\(String(cString: strerror(errno))))")
    }
    let header = (try? handle.read(upToCount: 16)) ?? Data()
    try? handle.close()
    guard header == Data("SQLite format 3\0".utf8) else { throw .notADatabase(databasePath) }
    try requireWritable(database: true)
  }

  /// Write access to the directory (SQLite creates `-wal` and `-shm` files beside the
  /// database) and to the database file. Tested by doing, not by `access(2)`, which says yes
  /// to root even on an immutable file.
  func requireWritable(database: Bool) throws(StoreError) {
    let probe = directory + "/.blastview-write-probe-\(getpid())"
    let fd = Glibc.open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    if fd < 0 {
      let e = errno
      if e == EEXIST {
        unlink(probe)
      } else {
        throw Workspace.classifyWriteFailure(path: directory, errno: Int(e))
      }
    } else {
      close(fd)
      unlink(probe)
    }
    if database {
      let dfd = Glibc.open(databasePath, O_RDWR)
      if dfd < 0 { throw Workspace.classifyWriteFailure(path: databasePath, errno: Int(errno)) }
      close(dfd)
    }
  }

  static func classifyWriteFailure(path: String, errno e: Int) -> StoreError {
    switch Int32(e) {
    case EACCES, EPERM, EROFS: return .readOnly(path)
    case ENOSPC, EDQUOT, EFBIG: return .diskFull(path)
    default: return .io(path: path, reason: String(cString: strerror(Int32(e))))
    }
  }

  static func absolute(_ path: String) -> String {
    let p = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    return URL(fileURLWithPath: p).standardizedFileURL.path
  }
}
