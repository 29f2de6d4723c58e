/// Why an image could not be read or written, and which file it was.
///
/// Every decoder and writer in `Imaging` throws this one type, so callers (the importer,
/// the review screen, `blastview doctor`) can skip a bad file with a message that names it
/// and says what is wrong, and tests can match the exact reason.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
  public enum Reason: Equatable, Sendable {
    /// No file at the path.
    case notFound
    /// The path is a directory.
    case isDirectory
    /// The file exists but could not be read (permission, I/O error, not a regular file,
    /// too big to read).
    case unreadable(String)
    /// The bytes are not any image format we know (by their magic bytes, not the name).
    case notAnImage
    /// An image format or variant that is recognised but not decoded (e.g. GIF, 16-bit BMP).
    case unsupported(String)
    /// The file is damaged; the string is the decoder's reason.
    case corrupt(String)
    /// The data ends before the image does.
    case truncated
    /// The header claims more pixels than the decode limit allows; refused before any
    /// pixel memory was allocated.
    case tooLarge(width: Int, height: Int, limit: Int)
    /// Writing the file failed; the string says why.
    case writeFailed(String)
    /// The file's bytes are no longer the ones recorded (at import): someone replaced or
    /// edited it. The strings are the recorded and the current SHA-256.
    case changedSinceImport(recorded: String, now: String)
  }

  /// The file's path as given (or the name a caller gave an in-memory buffer).
  public let path: String
  public let reason: Reason

  public init(path: String, reason: Reason) {
    self.path = path
    self.reason = reason
  }

  /// "`path`: reason", as the file is named and the decoder said it. The path and a decoder
  /// message (which may quote bytes of the file) are data: whoever prints this on a terminal
  /// filters it (Terminal's `Sanitizer`), as for any other text a file controls.
  public var description: String {
    "\(path): \(reason.description)"
  }
}

extension ImageError.Reason: CustomStringConvertible {
  public var description: String {
    switch self {
    case .notFound: return "no such file"
    case .isDirectory: return "is a directory, not an image file"
    case .unreadable(let why): return "cannot be read (\(why))"
    case .notAnImage: return "not an image (not PNG, JPEG or BMP by its first bytes)"
    case .unsupported(let what): return "unsupported image variant: \(what)"
    case .corrupt(let why): return "corrupt image: \(why)"
    case .truncated: return "truncated: the file ends before the image does"
    case .tooLarge(let width, let height, let limit):
      return "too large: \(width)x\(height) is \(width * height) pixels, above the limit of \(limit)"
    case .writeFailed(let why): return "could not be written (\(why))"
    case .changedSinceImport(let recorded, let now):
      return
        "changed since it was imported: its SHA-256 is now \(now.prefix(12))…, the case was \(recorded.prefix(12))…; "
        + "refusing to show, explain or annotate it as that case (restore the original file, or import the new one as a new case)"
    }
  }
}
