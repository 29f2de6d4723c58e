#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Every file BlastView writes goes through here, so that a workspace shared by several Unix
/// users (or an output folder another user can write) cannot turn a write into an attack:
///
/// - a name planted as a symbolic link is never followed (`O_NOFOLLOW`), and an output path
///   that is a link is refused outright rather than replaced;
/// - new files are created exclusively (`O_EXCL`) under a random name in the target folder
///   (`mkstemp`), flushed (`fsync`) and renamed into place, so nobody can pre-create or
///   predict the temporary name, and a reader sees the old file or the whole new one;
/// - files appended to (logs) are opened without following links, must be regular files
///   owned by this user, and live in a per-user folder (`privateDirectory`) nobody else can
///   write into.
///
/// It sits below every other module (it depends on nothing), so Imaging, NeuralEngine and
/// CaseStore all write through the same code.
public enum SafeFile {
  /// Writes `bytes` to `path` atomically: a fresh `mkstemp` file beside it (created with
  /// `O_EXCL`, mode 0600 until complete), written, `fchmod`ed to `mode`, flushed, renamed
  /// over `path`, and the folder flushed. Refuses a `path` that is a symbolic link or not a
  /// regular file. With `replace: false` an existing `path` (of any kind) is refused too, and
  /// the final step is `link`+`unlink`, which never replaces a name created meanwhile.
  public static func write(
    _ bytes: [UInt8], to path: String, mode: mode_t = 0o644, replace: Bool = true
  ) throws(SafeFileError) {
    let (folder, base) = split(path)
    if base.isEmpty || base == "." || base == ".." {
      throw SafeFileError(path: path, reason: .notRegularFile("the path names a folder, not a file"))
    }
    try checkTarget(path, replace: replace)
    let temp = try writeTemporary(bytes, in: folder, base: base, mode: mode)
    do { try install(temp, at: path, replace: replace) } catch {
      unlink(temp)
      throw error
    }
    syncFolder(folder)
  }

  /// Writes `bytes` to a new, exclusively created file with a random name in `folder`,
  /// `fchmod`s it to `mode` and flushes it; returns its path for the caller to `install` (or
  /// rename) into place, or unlink.
  public static func writeTemporary(_ bytes: [UInt8], in folder: String, base: String, mode: mode_t = 0o644)
    throws(SafeFileError) -> String
  {
    let temp = try createTemporary(in: folder, base: base)
    do throws(SafeFileError) {
      try writeAll(temp.fd, bytes, path: folder + "/" + base)
      if fchmod(temp.fd, mode) != 0 || fsync(temp.fd) != 0 {
        throw SafeFileError(path: folder + "/" + base, errno: errno)
      }
    } catch {
      close(temp.fd)
      unlink(temp.path)
      throw error
    }
    if close(temp.fd) != 0 {
      let e = errno
      unlink(temp.path)
      throw SafeFileError(path: folder + "/" + base, errno: e)
    }
    return temp.path
  }

  /// Writes `bytes` to a file that must not exist yet (`O_CREAT|O_EXCL|O_NOFOLLOW`: an existing
  /// name, links included, is refused) without flushing it: scratch files, such as a
  /// benchmark's synthetic images, that are thrown away with their folder and need no
  /// durability, only never to land in someone else's file.
  public static func createNew(_ bytes: [UInt8], at path: String, mode: mode_t = 0o644) throws(SafeFileError)
  {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
    if fd < 0 {
      let e = errno
      throw e == EEXIST ? SafeFileError(path: path, reason: .exists) : SafeFileError(path: path, errno: e)
    }
    do { try writeAll(fd, bytes, path: path) } catch {
      close(fd)
      unlink(path)
      throw error
    }
    if close(fd) != 0 {
      let e = errno
      unlink(path)
      throw SafeFileError(path: path, errno: e)
    }
  }

  /// Creates a new, empty file under a random name in `folder` (`mkstemp`: `O_CREAT|O_EXCL`,
  /// mode 0600) and returns its descriptor and path. The caller writes, syncs, closes and
  /// then `install`s it, or unlinks it.
  public static func createTemporary(in folder: String, base: String) throws(SafeFileError) -> (
    fd: Int32, path: String
  ) {
    var template = Array((folder + "/." + base + ".tmp-XXXXXX").utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    if fd < 0 { throw SafeFileError(path: folder + "/" + base, errno: errno) }
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    let tempPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return (fd, tempPath)
  }

  /// Creates a fresh folder only this user can enter (`mkdtemp`, mode 0700) in `folder`: a
  /// place for a tool (SQLite) that opens files by name, where nobody can plant a link.
  public static func createTemporaryDirectory(in folder: String, base: String) throws(SafeFileError)
    -> String
  {
    var template = Array((folder + "/." + base + ".tmp-XXXXXX").utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    if made == nil { throw SafeFileError(path: folder + "/" + base, errno: errno) }
    return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  }

  /// Moves a finished temporary file to `path`. `replace: true` renames (which replaces the
  /// name itself, never the file a link at `path` points to; `checkTarget` has already
  /// refused a link). `replace: false` links the file at `path`, which fails on any existing
  /// name, links included, so a backup never overwrites anything.
  public static func install(_ temp: String, at path: String, replace: Bool) throws(SafeFileError) {
    if replace {
      if rename(temp, path) != 0 { throw SafeFileError(path: path, errno: errno) }
    } else {
      if link(temp, path) != 0 {
        let e = errno
        if e == EEXIST { throw SafeFileError(path: path, reason: .exists) }
        throw SafeFileError(path: path, errno: e)
      }
      unlink(temp)
    }
  }

  /// Refuses an output path that is a symbolic link or another kind of non-regular file
  /// (and, with `replace: false`, any existing name).
  public static func checkTarget(_ path: String, replace: Bool) throws(SafeFileError) {
    var st = stat()
    if lstat(path, &st) != 0 {
      if errno == ENOENT { return }
      throw SafeFileError(path: path, errno: errno)
    }
    let kind = st.st_mode & S_IFMT
    if kind == S_IFLNK { throw SafeFileError(path: path, reason: .symbolicLink) }
    if !replace { throw SafeFileError(path: path, reason: .exists) }
    if kind != S_IFREG { throw SafeFileError(path: path, reason: .notRegularFile("not a regular file")) }
  }

  /// Opens `path` for appending (a log): created exclusively (mode 0600) when missing, else
  /// opened without following a link; either way it must be a regular file owned by this
  /// user. Returns a close-on-exec descriptor.
  public static func openForAppend(_ path: String, mode: mode_t = 0o600) throws(SafeFileError) -> Int32 {
    let flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC
    var fd = open(path, flags | O_CREAT | O_EXCL, mode)
    if fd < 0 && errno == EEXIST { fd = open(path, flags | O_NONBLOCK) }
    if fd < 0 {
      let e = errno
      if e == ELOOP { throw SafeFileError(path: path, reason: .symbolicLink) }
      throw SafeFileError(path: path, errno: e)
    }
    do { try requireOwnRegularFile(fd, path: path) } catch {
      close(fd)
      throw error
    }
    return fd
  }

  /// Opens (creating when missing) a file several processes and users share on purpose, such
  /// as a lock file: never through a link, and it must be a regular file.
  public static func openShared(_ path: String, mode: mode_t = 0o644) throws(SafeFileError) -> Int32 {
    let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode)
    if fd < 0 {
      let e = errno
      if e == ELOOP { throw SafeFileError(path: path, reason: .symbolicLink) }
      throw SafeFileError(path: path, errno: e)
    }
    var st = stat()
    if fstat(fd, &st) != 0 || (st.st_mode & S_IFMT) != S_IFREG {
      close(fd)
      throw SafeFileError(path: path, reason: .notRegularFile("not a regular file"))
    }
    return fd
  }

  /// A folder only this user writes: `parent/<user>` (made 0700 when missing). Refuses one
  /// that is a link, not a folder, owned by someone else, or writable by group or others,
  /// so another user of a shared workspace cannot plant names in it.
  public static func privateDirectory(in parent: String) throws(SafeFileError) -> String {
    try makeDirectories(parent)
    let dir = parent + "/" + userFolderName
    if mkdir(dir, 0o700) != 0 && errno != EEXIST { throw SafeFileError(path: dir, errno: errno) }
    var st = stat()
    if lstat(dir, &st) != 0 { throw SafeFileError(path: dir, errno: errno) }
    if (st.st_mode & S_IFMT) == S_IFLNK { throw SafeFileError(path: dir, reason: .symbolicLink) }
    if (st.st_mode & S_IFMT) != S_IFDIR {
      throw SafeFileError(path: dir, reason: .notRegularFile("not a folder"))
    }
    if st.st_uid != geteuid() { throw SafeFileError(path: dir, reason: .foreignOwner(uid: st.st_uid)) }
    if st.st_mode & 0o022 != 0 {
      throw SafeFileError(path: dir, reason: .notRegularFile("writable by other users"))
    }
    return dir
  }

  /// This user's folder name inside shared folders: the login name when it is a plain
  /// file-name word, else `uid-<N>`.
  public static var userFolderName: String {
    let uid = geteuid()
    if let pw = getpwuid(uid), let cName = pw.pointee.pw_name {
      let name = String(cString: cName)
      let plain =
        !name.isEmpty && !name.hasPrefix(".")
        && name.utf8.allSatisfy { c in
          (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            || c == 0x2D || c == 0x5F || c == 0x2E
        }
      if plain { return name }
    }
    return "uid-\(uid)"
  }

  /// `mkdir -p`: folders that exist are fine (links to folders included: the caller chose the
  /// path); a component that exists and is not a folder is an error.
  public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SafeFileError) {
    if path.isEmpty { return }
    var st = stat()
    if stat(path, &st) == 0 {
      if (st.st_mode & S_IFMT) == S_IFDIR { return }
      throw SafeFileError(path: path, reason: .notRegularFile("exists and is not a folder"))
    }
    let (parent, _) = split(path)
    if parent != path && parent != "/" { try makeDirectories(parent, mode: mode) }
    if mkdir(path, mode) != 0 && errno != EEXIST { throw SafeFileError(path: path, errno: errno) }
  }

  /// Reads a whole regular file given by name (a CSV, JSON or checkpoint a user names):
  /// `O_NONBLOCK` so a FIFO cannot hang the open, then refused unless it is a regular file,
  /// and refused above `maxBytes` before anything is allocated.
  public static func read(_ path: String, maxBytes: Int) throws(SafeFileError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    if fd < 0 { throw SafeFileError(path: path, errno: errno) }
    defer { close(fd) }
    var st = stat()
    if fstat(fd, &st) != 0 { throw SafeFileError(path: path, errno: errno) }
    switch st.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: throw SafeFileError(path: path, reason: .notRegularFile("is a folder, not a file"))
    case S_IFIFO:
      throw SafeFileError(path: path, reason: .notRegularFile("is a FIFO (named pipe), not a file"))
    default: throw SafeFileError(path: path, reason: .notRegularFile("not a regular file"))
    }
    let size = Int(st.st_size)
    if size > maxBytes { throw SafeFileError(path: path, reason: .tooLarge(size: size, limit: maxBytes)) }
    var bytes = [UInt8](repeating: 0, count: size)
    var done = 0
    while done < size {
      let n = bytes.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress! + done, size - done) }
      if n < 0 {
        if errno == EINTR { continue }
        throw SafeFileError(path: path, errno: errno)
      }
      if n == 0 { break }
      done += n
    }
    if done < size { bytes.removeSubrange(done...) }
    return bytes
  }

  // MARK: Helpers

  static func split(_ path: String) -> (folder: String, base: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let folder = String(path[..<slash])
    return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
  }

  static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SafeFileError) {
    var done = 0
    while done < bytes.count {
      let n = bytes.withUnsafeBytes { posixWrite(fd, $0.baseAddress! + done, bytes.count - done) }
      if n < 0 {
        if errno == EINTR { continue }
        throw SafeFileError(path: path, errno: errno)
      }
      done += n
    }
  }

  static func requireOwnRegularFile(_ fd: Int32, path: String) throws(SafeFileError) {
    var st = stat()
    if fstat(fd, &st) != 0 { throw SafeFileError(path: path, errno: errno) }
    if (st.st_mode & S_IFMT) != S_IFREG {
      throw SafeFileError(path: path, reason: .notRegularFile("not a regular file"))
    }
    if st.st_uid != geteuid() { throw SafeFileError(path: path, reason: .foreignOwner(uid: st.st_uid)) }
  }

  /// Flushes a folder's entries (the rename) to disk; best effort.
  public static func syncFolder(_ folder: String) {
    let dfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 {
      _ = fsync(dfd)
      close(dfd)
    }
  }
}

// `SafeFile.read` and `SafeFile.write` shadow the system calls inside the type.
private func posixRead(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ n: Int) -> Int { read(fd, buf, n) }
private func posixWrite(_ fd: Int32, _ buf: UnsafeRawPointer, _ n: Int) -> Int { write(fd, buf, n) }

/// Why a file could not be written or read safely; `errno` keeps the system's code for
/// callers that map it (read-only, disk full).
public struct SafeFileError: Error, Sendable, Equatable, CustomStringConvertible {
  public enum Reason: Sendable, Equatable {
    case symbolicLink
    case exists
    case notRegularFile(String)
    case foreignOwner(uid: uid_t)
    case tooLarge(size: Int, limit: Int)
    case system(Int32)
  }

  public var path: String
  public var reason: Reason

  public init(path: String, reason: Reason) {
    self.path = path
    self.reason = reason
  }

  init(path: String, errno code: Int32) {
    self.init(path: path, reason: .system(code))
  }

  /// The system error code, when the failure was one.
  public var errno: Int32? {
    if case .system(let e) = reason { return e }
    return nil
  }

  public var why: String {
    switch reason {
    case .symbolicLink: return "is a symbolic link; refusing to write through it"
    case .exists: return "already exists"
    case .notRegularFile(let what): return what
    case .foreignOwner(let uid): return "belongs to another user (uid \(uid)); refusing to use it"
    case .tooLarge(let size, let limit): return "is \(size) bytes, above the \(limit)-byte limit"
    case .system(let e):
      guard let text = strerror(e) else { return "error \(e)" }
      return String(cString: text)
    }
  }

  public var description: String { "\(path): \(why)" }
}
