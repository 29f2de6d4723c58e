/// An 8-bit RGB image, row-major, 3 bytes per pixel, no padding.
///
/// Every decoder converts to this one layout (gray, palette, 16-bit and alpha PNGs,
/// grayscale and CMYK JPEGs, BMP), so the rest of BlastView handles a single type.
public struct RGBImage: Equatable, Sendable {
  public let width: Int
  public let height: Int
  /// `width * height * 3` bytes: R, G, B for pixel (x, y) at `(y * width + x) * 3`.
  public var pixels: [UInt8]

  public init(width: Int, height: Int, pixels: [UInt8]) {
    precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3)
    self.width = width
    self.height = height
    self.pixels = pixels
  }

  /// A new image filled with one colour.
  public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
    var p = [UInt8](repeating: 0, count: width * height * 3)
    if fill != (0, 0, 0) {
      for i in stride(from: 0, to: p.count, by: 3) {
        p[i] = fill.0
        p[i + 1] = fill.1
        p[i + 2] = fill.2
      }
    }
    self.init(width: width, height: height, pixels: p)
  }

  @inlinable public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
    get {
      let i = (y * width + x) * 3
      return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
    set {
      let i = (y * width + x) * 3
      pixels[i] = newValue.r
      pixels[i + 1] = newValue.g
      pixels[i + 2] = newValue.b
    }
  }
}
