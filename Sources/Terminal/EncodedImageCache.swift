/// Encoded image bytes, ready to write at any position.
public enum EncodedImage: Sendable {
  /// A complete sixel DCS sequence, drawn from the cursor position.
  case sixel([UInt8])
  /// One byte string per cell row (colours and `▀`), each positioned by the painter.
  case blocks([[UInt8]])

  public var byteCount: Int {
    switch self {
    case .sixel(let b): return b.count
    case .blocks(let rows): return rows.reduce(0) { $0 + $1.count }
    }
  }
}

/// What a cached encoding is keyed by: the content key (overlays included), the pixel size
/// it was encoded at, and the backend (DESIGN §6: "cached by (case, size, overlay)").
public struct EncodedImageKey: Hashable, Sendable {
  public var key: String
  public var width: Int
  public var height: Int
  public var backend: GraphicsBackend
}

/// Least-recently-used cache of encoded images, bounded by total bytes. Encoding a 224×224
/// sixel costs ~10 ms and xterm's drawing more, so a page of thumbnails is encoded once and
/// revisiting it costs only the write.
public final class EncodedImageCache {
  public let byteBudget: Int
  public private(set) var totalBytes = 0
  public private(set) var hits = 0
  public private(set) var misses = 0
  private var entries: [EncodedImageKey: (image: EncodedImage, lastUse: Int)] = [:]
  private var clock = 0

  /// The default budget, 64 MiB, holds about 1,200 thumbnails of 96×96 pixels in sixel.
  public init(byteBudget: Int = 64 << 20) {
    self.byteBudget = byteBudget
  }

  public var count: Int { entries.count }

  public func lookup(_ key: EncodedImageKey) -> EncodedImage? {
    clock += 1
    guard let entry = entries[key] else {
      misses += 1
      return nil
    }
    hits += 1
    entries[key] = (entry.image, clock)
    return entry.image
  }

  public func store(_ image: EncodedImage, for key: EncodedImageKey) {
    clock += 1
    if let old = entries[key] { totalBytes -= old.image.byteCount }
    entries[key] = (image, clock)
    totalBytes += image.byteCount
    while totalBytes > byteBudget, entries.count > 1 {
      guard let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) else { break }
      totalBytes -= oldest.value.image.byteCount
      entries[oldest.key] = nil
    }
  }

  public func removeAll() {
    entries.removeAll()
    totalBytes = 0
  }
}
