/// A rectangle of pixels: `x`, `y` of its top-left pixel, `width` × `height` pixels.
public struct PixelRect: Sendable, Equatable, Hashable, Codable {
  public var x: Int
  public var y: Int
  public var width: Int
  public var height: Int

  public init(x: Int, y: Int, width: Int, height: Int) {
    self.x = x
    self.y = y
    self.width = width
    self.height = height
  }

  public var isEmpty: Bool { width <= 0 || height <= 0 }
  public var area: Int { isEmpty ? 0 : width * height }
  /// One past the last column / row.
  public var maxX: Int { x + width }
  public var maxY: Int { y + height }

  /// The overlap of two rectangles (empty, with zero size, when they do not overlap).
  public func intersection(_ other: PixelRect) -> PixelRect {
    let x0 = max(x, other.x)
    let y0 = max(y, other.y)
    let x1 = min(maxX, other.maxX)
    let y1 = min(maxY, other.maxY)
    return x1 > x0 && y1 > y0
      ? PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
      : PixelRect(x: x0, y: y0, width: 0, height: 0)
  }

  /// This rectangle clipped to a `width` × `height` image.
  public func clipped(toWidth width: Int, height: Int) -> PixelRect {
    intersection(PixelRect(x: 0, y: 0, width: width, height: height))
  }
}
