/// The longest free text a rater may attach (a note on an annotation, an adjudication's
/// reason), in UTF-8 bytes: a few pages, far more than a clinical note, and small enough that
/// no one can fill an append-only history, or every colleague's screen, with one write. Both
/// backends refuse more (PostgreSQL by a CHECK constraint, `pg-v10-write-limits`).
public enum TextLimits {
  public static let maxBytes = 16384

  /// Throws `invalidInput` naming the field when `text` is longer than the limit.
  static func check(_ text: String?, _ what: String) throws(StoreError) {
    guard let text, text.utf8.count > maxBytes else { return }
    throw .invalidInput("\(what) is \(text.utf8.count) bytes; at most \(maxBytes) are kept")
  }
}
