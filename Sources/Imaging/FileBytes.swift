#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads a whole regular file, mapping each failure to the `ImageError` reason a user
/// can act on. Refuses directories, devices and FIFOs (reading `/dev/zero` would never
/// end) and files above `maxBytes`.
func readImageFile(_ path: String, maxBytes: Int) throws(ImageError) -> [UInt8] {
  try readImageFileAndIdentity(path, maxBytes: maxBytes).bytes
}

/// A file's bytes and what identifies that version of it: device, inode, size, modification
/// and status-change times, all from the descriptor the bytes were read through. A file
/// replaced or rewritten changes its inode or its ctime (which no user can set back), so an
/// unchanged identity means unchanged bytes and a check of them can be skipped.
public struct ImageFileBytes: Sendable {
  public var bytes: [UInt8]
  public var identity: String
}

/// The bytes of an image file (refusing FIFOs, devices, folders and files above the limit,
/// like every decode) with its identity (see `ImageFileBytes`).
public func readImageBytes(at path: String, limits: DecodeLimits = .default) throws(ImageError)
  -> ImageFileBytes
{
  try readImageFileAndIdentity(path, maxBytes: limits.maxFileBytes)
}

func readImageFileAndIdentity(_ path: String, maxBytes: Int) throws(ImageError) -> ImageFileBytes {
  func fail(_ reason: ImageError.Reason) -> ImageError { ImageError(path: path, reason: reason) }
  if path.isEmpty { throw fail(.notFound) }
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever. It has no effect
  // on reading a regular file, the only kind we go on to read.
  let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
  if fd < 0 {
    let code = errno
    switch code {
    case ENOENT, ENOTDIR: throw fail(.notFound)
    case EISDIR: throw fail(.isDirectory)
    default: throw fail(.unreadable(systemMessage(code)))
    }
  }
  defer { close(fd) }
  var st = stat()
  if fstat(fd, &st) != 0 { throw fail(.unreadable(systemMessage(errno))) }
  let kind = st.st_mode & S_IFMT
  if kind == S_IFDIR { throw fail(.isDirectory) }
  if kind != S_IFREG { throw fail(.unreadable("not a regular file")) }
  let size = Int(st.st_size)
  if size > maxBytes {
    throw fail(.unreadable("file is \(size) bytes, above the \(maxBytes)-byte read limit"))
  }
  var bytes = [UInt8](repeating: 0, count: size)
  var done = 0
  while done < size {
    let n = bytes.withUnsafeMutableBytes { buf in
      read(fd, buf.baseAddress! + done, size - done)
    }
    if n < 0 {
      if errno == EINTR { continue }
      throw fail(.unreadable(systemMessage(errno)))
    }
    if n == 0 { break }  // the file shrank while we read it
    done += n
  }
  if done < size { bytes.removeSubrange(done...) }
  #if canImport(Glibc)
    let (m, c) = (st.st_mtim, st.st_ctim)
  #else
    let (m, c) = (st.st_mtimespec, st.st_ctimespec)
  #endif
  let identity = "\(st.st_dev):\(st.st_ino):\(st.st_size):\(m.tv_sec).\(m.tv_nsec):\(c.tv_sec).\(c.tv_nsec)"
  return ImageFileBytes(bytes: bytes, identity: identity)
}

/// `strerror` text for an errno value.
func systemMessage(_ code: Int32) -> String {
  guard let text = strerror(code) else { return "error \(code)" }
  return String(cString: text)
}
