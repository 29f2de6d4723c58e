import Foundation

/// One entry of a registered checkpoint's metadata, with the model version it belongs to.
public struct ModelMetadataEntry: Sendable, Equatable {
  public var version: Int64
  /// The entry's text (itself JSON for `operating_point`); nil when the checkpoint has none.
  public var value: String?

  public init(version: Int64, value: String?) {
    self.version = version
    self.value = value
  }
}

/// The header of a safetensors checkpoint (docs/checkpoint-format.md): an 8-byte little-endian
/// length, then that many bytes of JSON whose `__metadata__` maps names to strings. Read here
/// without the weights, so the app can show a model's screening operating point on either
/// backend (PostgreSQL reads the same bytes in `model_metadata`) without loading the model.
public enum CheckpointHeader {
  /// Headers above this are not read (a real one is tens of kilobytes).
  static let maximumLength = 100_000_000

  /// The `__metadata__` of the checkpoint file at `path`; nil when it cannot be read as one.
  public static func metadataJSON(file path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard let prefix = try? handle.read(upToCount: 8), prefix.count == 8 else { return nil }
    var n: UInt64 = 0
    for b in prefix.reversed() { n = n << 8 | UInt64(b) }
    guard n > 0, n <= UInt64(maximumLength), let header = try? handle.read(upToCount: Int(n)),
      header.count == Int(n),
      let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any],
      let metadata = object["__metadata__"],
      let text = try? JSONSerialization.data(withJSONObject: metadata)
    else { return nil }
    return String(decoding: text, as: UTF8.self)
  }

  /// The string entry `key` of a `__metadata__` object given as JSON text.
  public static func entry(_ key: String, inMetadataJSON text: String?) -> String? {
    guard let text, let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    else { return nil }
    return object[key] as? String
  }
}
