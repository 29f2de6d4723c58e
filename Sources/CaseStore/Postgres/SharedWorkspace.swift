import FileSafety
import Foundation

/// A shared workspace's directory keeps only what is not shared: the database's libpq URL
/// (`database.url`, one line) and per-user caches. Everything else (cases, images, labels,
/// sessions, models) is in PostgreSQL, so a rater needs no access to any file of another.
public enum SharedWorkspace {
  public static let urlFileName = "database.url"

  /// The URL of `directory`'s shared database, or nil for an embedded (SQLite) workspace.
  public static func databaseURL(in directory: String) throws(StoreError) -> String? {
    let path = Workspace(directory: directory).directory + "/" + urlFileName
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    let data: [UInt8]
    do { data = try SafeFile.read(path, maxBytes: 64 << 10) } catch {
      throw .io(path: path, reason: error.why)
    }
    let url = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard !url.isEmpty, !url.contains("\n") else {
      throw .io(path: path, reason: "must hold one libpq URL or connection string")
    }
    return url
  }

  /// Records `url` as `directory`'s database (the directory is created, mode 0700). Refuses a
  /// directory that already is a workspace of either kind. The file is written under a
  /// temporary name (O_EXCL, O_NOFOLLOW), synced and renamed, mode 0600: a URL may carry a
  /// password, though `~/.pgpass` is the better place for one.
  public static func attach(directory: String, url: String) throws(StoreError) {
    let ws = Workspace(directory: directory)
    let fm = FileManager.default
    if fm.fileExists(atPath: ws.databasePath) || fm.fileExists(atPath: ws.directory + "/" + urlFileName) {
      throw .workspaceExists(ws.directory)
    }
    do {
      try fm.createDirectory(
        atPath: ws.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    } catch {
      throw Workspace.classifyWriteFailure(path: ws.directory, errno: (error as NSError).code)
    }
    let final = ws.directory + "/" + urlFileName
    let tmp = ws.directory + "/.\(urlFileName).\(getpid())"
    let fd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
    guard fd >= 0 else { throw Workspace.classifyWriteFailure(path: tmp, errno: Int(errno)) }
    let bytes = Array((url + "\n").utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    let synced = fsync(fd) == 0
    close(fd)
    guard written == bytes.count, synced, rename(tmp, final) == 0 else {
      let e = errno
      unlink(tmp)
      throw Workspace.classifyWriteFailure(path: final, errno: Int(e))
    }
    try? fm.createDirectory(atPath: ws.cacheDirectory, withIntermediateDirectories: true)
  }
}
