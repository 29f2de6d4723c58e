// Drawing on images: blanking a rectangle (the Aria scale-bar corner, data/README.md) and
// tinting the pixels a mask marks (nucleus overlays in the review screen).

extension RGBImage {
  /// A copy with `rect` (clipped to the image) filled with `colour`.
  public func blanking(_ rect: PixelRect, with colour: (UInt8, UInt8, UInt8)) -> RGBImage {
    var copy = self
    let r = rect.clipped(toWidth: width, height: height)
    guard !r.isEmpty else { return copy }
    copy.pixels.withUnsafeMutableBufferPointer { p in
      for y in r.y..<r.maxY {
        var i = (y * width + r.x) * 3
        for _ in 0..<r.width {
          p[i] = colour.0
          p[i + 1] = colour.1
          p[i + 2] = colour.2
          i += 3
        }
      }
    }
    return copy
  }

  /// A copy where every pixel whose mask value is above 0 becomes
  /// `(1 - alpha) * pixel + alpha * colour`, rounded, per channel; other pixels are kept.
  /// `alpha` is clamped to 0...1. A mask of another size is first resized to the image by
  /// nearest neighbour (model masks come at the network's input size).
  public func blendingOverlay(_ mask: Mask, colour: (UInt8, UInt8, UInt8), alpha: Float)
    -> RGBImage
  {
    let m = (mask.width == width && mask.height == height) ? mask : mask.resized(width: width, height: height)
    let a = alpha.isNaN ? 0 : min(max(alpha, 0), 1)
    let tint = (a * Float(colour.0), a * Float(colour.1), a * Float(colour.2))
    let keep = 1 - a
    var copy = self
    copy.pixels.withUnsafeMutableBufferPointer { p in
      m.values.withUnsafeBufferPointer { v in
        for i in 0..<v.count where v[i] > 0 {
          let j = 3 * i
          p[j] = UInt8((keep * Float(p[j]) + tint.0).rounded())
          p[j + 1] = UInt8((keep * Float(p[j + 1]) + tint.1).rounded())
          p[j + 2] = UInt8((keep * Float(p[j + 2]) + tint.2).rounded())
        }
      }
    }
    return copy
  }
}
