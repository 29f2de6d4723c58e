import CImageCodecs

/// Calls into the C codecs (`CImageCodecs`) and turns their status into `ImageError`.
/// No libpng or libjpeg error ever longjmps through here: the C side returns a status.
enum CodecBridge {
  typealias Decode = (
    UnsafePointer<UInt8>?, Int, UInt64, UnsafeMutablePointer<bv_pixels>?,
    UnsafeMutablePointer<bv_error>?
  ) -> bv_status
  typealias Probe = (
    UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<bv_header>?,
    UnsafeMutablePointer<bv_error>?
  ) -> bv_status

  static func decode(_ data: [UInt8], name: String, limits: DecodeLimits, with decoder: Decode)
    throws(ImageError) -> DecodedPixels
  {
    var pixels = bv_pixels()
    var error = bv_error()
    let status = data.withUnsafeBufferPointer { buf in
      decoder(buf.baseAddress, buf.count, UInt64(max(0, limits.maxPixels)), &pixels, &error)
    }
    guard status == BV_OK, let base = pixels.data else {
      throw imageError(error, name: name, limits: limits)
    }
    defer { bv_free(base) }
    let count = Int(pixels.width) * Int(pixels.height) * Int(pixels.channels)
    return DecodedPixels(
      width: Int(pixels.width), height: Int(pixels.height), channels: Int(pixels.channels),
      bytes: Array(UnsafeBufferPointer(start: base, count: count)))
  }

  static func probe(_ data: [UInt8], name: String, format: ImageFormat, with prober: Probe)
    throws(ImageError) -> ImageInfo
  {
    var header = bv_header()
    var error = bv_error()
    let status = data.withUnsafeBufferPointer { buf in
      prober(buf.baseAddress, buf.count, &header, &error)
    }
    guard status == BV_OK else { throw imageError(error, name: name, limits: .default) }
    return ImageInfo(width: Int(header.width), height: Int(header.height), format: format)
  }

  static func imageError(_ error: bv_error, name: String, limits: DecodeLimits) -> ImageError {
    let message = withUnsafeBytes(of: error.message) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    let reason: ImageError.Reason
    switch error.status {
    case BV_NOT_THIS_FORMAT: reason = .notAnImage
    case BV_TRUNCATED: reason = .truncated
    case BV_UNSUPPORTED: reason = .unsupported(message)
    case BV_TOO_LARGE:
      reason = .tooLarge(width: Int(error.width), height: Int(error.height), limit: limits.maxPixels)
    case BV_NO_MEMORY: reason = .unreadable(message)
    default: reason = .corrupt(message)
    }
    return ImageError(path: name, reason: reason)
  }

  /// libpng's version at run time, e.g. "1.6.39".
  static var pngVersion: String { String(cString: bv_png_runtime_version()) }
  /// libjpeg-turbo's version at build time (it has no run-time query), e.g. "2.1.5".
  static var jpegVersion: String { String(cString: bv_jpeg_version()) }
}

/// Versions of the codec libraries, for `blastview doctor`.
public enum CodecLibraries {
  public static var libpng: String { CodecBridge.pngVersion }
  public static var libjpeg: String { CodecBridge.jpegVersion }
}

extension CodecBridge {
  /// libpng's own peak allocation (its counting allocator in png_codec.c) while decoding
  /// `data`, and the error when decoding failed: how the tests check that no chunk length
  /// or header field decides an allocation.
  static func pngLibraryPeak(_ data: [UInt8], name: String, limits: DecodeLimits = .default) -> (
    peakBytes: Int, error: ImageError?
  ) {
    var pixels = bv_pixels()
    var error = bv_error()
    let status = data.withUnsafeBufferPointer { buf in
      bv_png_decode(buf.baseAddress, buf.count, UInt64(max(0, limits.maxPixels)), &pixels, &error)
    }
    guard status == BV_OK else {
      return (Int(error.peak_bytes), imageError(error, name: name, limits: limits))
    }
    bv_free(pixels.data)
    return (Int(pixels.library_peak_bytes), nil)
  }
}
