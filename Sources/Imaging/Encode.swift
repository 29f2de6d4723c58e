import CImageCodecs
import FileSafety

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
/// Through `SafeFile`: the temporary name is random and created exclusively, and a `path`
/// that is a symbolic link is refused, never followed.
func writeFileAtomically(_ bytes: [UInt8], to path: String) throws(ImageError) {
  do { try SafeFile.write(bytes, to: path) } catch {
    throw ImageError(path: path, reason: .writeFailed(error.why))
  }
}
