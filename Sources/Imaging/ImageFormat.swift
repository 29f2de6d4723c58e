/// The formats `Imaging` decodes. Chosen from a file's first bytes, never its extension:
/// a `.png` that is really a JPEG decodes as the JPEG it is.
public enum ImageFormat: String, Sendable, Codable, CaseIterable {
  case png, jpeg, bmp

  /// The format whose magic bytes start `bytes`, or nil.
  public static func sniff(_ bytes: some Collection<UInt8>) -> ImageFormat? {
    let head = Array(bytes.prefix(8))
    if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
    if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
    if BMPDecoder.isBMP(Array(bytes.prefix(18))) { return .bmp }
    return nil
  }

  /// Names a format we recognise but do not decode, so the error can say "GIF" rather
  /// than "not an image".
  static func otherFormatName(_ bytes: some Collection<UInt8>) -> String? {
    let head = Array(bytes.prefix(12))
    func starts(_ s: String) -> Bool { head.starts(with: Array(s.utf8)) }
    if starts("GIF87a") || starts("GIF89a") { return "GIF" }
    if head.starts(with: [0x49, 0x49, 0x2A, 0x00]) || head.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) {
      return "TIFF"
    }
    if starts("RIFF") && head.count >= 12 && Array(head[8..<12]) == Array("WEBP".utf8) {
      return "WebP"
    }
    if head.starts(with: [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) { return "JPEG 2000" }
    if head.count >= 12 && Array(head[4..<8]) == Array("ftyp".utf8) { return "HEIF/AVIF" }
    return nil
  }
}

/// What a header says: size and format. `probeImage` returns it without decoding pixels.
public struct ImageInfo: Sendable, Equatable, Codable {
  public let width: Int
  public let height: Int
  public let format: ImageFormat

  public init(width: Int, height: Int, format: ImageFormat) {
    self.width = width
    self.height = height
    self.format = format
  }
}

/// Limits a decoder checks before it allocates, so a hostile or mistaken file cannot make
/// BlastView allocate gigabytes.
public struct DecodeLimits: Sendable, Equatable {
  /// Largest width*height accepted; checked on the header, before pixel memory exists.
  public var maxPixels: Int
  /// Largest file read into memory (a 64-megapixel uncompressed BMP is about 192 MB).
  public var maxFileBytes: Int

  public init(maxPixels: Int = 64_000_000, maxFileBytes: Int = 1 << 30) {
    self.maxPixels = maxPixels
    self.maxFileBytes = maxFileBytes
  }

  /// 64 megapixels, 1 GiB files.
  public static let `default` = DecodeLimits()
}
