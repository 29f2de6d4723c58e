import CImageCodecs

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

// PNG encoding, and atomic writes: a reader (another rater's process, the importer) never
// sees a half-written file, and a crash mid-write leaves the old file in place.

/// An 8-bit RGB PNG. Equal pixels always give equal bytes (no time or text chunks).
/// The image must not be empty (PNG has no 0-pixel images).
public func encodePNG(_ image: RGBImage) -> [UInt8] {
  encodePNG(image.pixels, width: image.width, height: image.height, channels: 3)
}

/// An 8-bit grayscale PNG of the mask's values. The mask must not be empty.
public func encodePNG(_ mask: Mask) -> [UInt8] {
  encodePNG(mask.values, width: mask.width, height: mask.height, channels: 1)
}

private func encodePNG(_ bytes: [UInt8], width: Int, height: Int, channels: Int32) -> [UInt8] {
  precondition(width > 0 && height > 0, "PNG cannot hold an empty \(width)x\(height) image")
  var error = bv_error()
  var out: UnsafeMutablePointer<UInt8>? = nil
  var size = 0
  let status = bytes.withUnsafeBufferPointer { buf in
    bv_png_encode(buf.baseAddress, UInt32(width), UInt32(height), channels, &out, &size, &error)
  }
  // Encoding valid pixels fails only when memory runs out.
  guard status == BV_OK, let data = out else {
    fatalError("PNG encoding failed: \(CodecBridge.imageError(error, name: "", limits: .default))")
  }
  defer { bv_free(data) }
  return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Writes an RGB PNG atomically (temporary file in the same folder, fsync, rename).
public func writePNG(_ image: RGBImage, to path: String) throws(ImageError) {
  try writeFileAtomically(encodePNG(image), to: path)
}

/// Writes a mask as an 8-bit gray PNG atomically.
public func writePNG(_ mask: Mask, to path: String) throws(ImageError) {
  try writeFileAtomically(encodePNG(mask), to: path)
}

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk, renames it over
/// `path` and flushes the folder, so the file is either the old one or the whole new one.
func writeFileAtomically(_ bytes: [UInt8], to path: String) throws(ImageError) {
  func fail(_ why: String) -> ImageError { ImageError(path: path, reason: .writeFailed(why)) }
  let slash = path.lastIndex(of: "/")
  let folder = slash.map { String(path[..<$0]) } ?? "."
  let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
  if base.isEmpty { throw fail("the path names a folder, not a file") }
  var template = ((folder.isEmpty ? "/" : folder + "/") + "." + base + ".tmp-XXXXXX").utf8CString
  let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
  if fd < 0 { throw fail(systemMessage(errno)) }
  let tempPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  var ok = false
  defer {
    if !ok { unlink(tempPath) }
  }
  var done = 0
  while done < bytes.count {
    let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
    if n < 0 {
      if errno == EINTR { continue }
      let why = systemMessage(errno)
      close(fd)
      throw fail(why)
    }
    done += n
  }
  // mkstemp creates 0600; images are ordinary documents.
  _ = fchmod(fd, 0o644)
  if fsync(fd) != 0 {
    let why = systemMessage(errno)
    close(fd)
    throw fail(why)
  }
  if close(fd) != 0 { throw fail(systemMessage(errno)) }
  if rename(tempPath, path) != 0 { throw fail(systemMessage(errno)) }
  ok = true
  let dirfd = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
  if dirfd >= 0 {
    _ = fsync(dirfd)
    close(dirfd)
  }
}
