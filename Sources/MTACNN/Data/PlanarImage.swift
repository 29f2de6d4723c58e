import Imaging

/// An RGB image as three float planes in [0, 1] (CHW): the layout the network reads, so a batch is
/// these buffers laid end to end. Augmentation and stain normalisation work on it in place.
public struct PlanarImage: Equatable, Sendable {
  public let width: Int
  public let height: Int
  /// `3 * width * height` values: the R plane, then G, then B, each row-major.
  public var data: [Float]

  public init(width: Int, height: Int, data: [Float]) {
    precondition(width >= 0 && height >= 0 && data.count == 3 * width * height)
    self.width = width
    self.height = height
    self.data = data
  }

  public init(width: Int, height: Int, fill: Float = 0) {
    self.init(width: width, height: height, data: [Float](repeating: fill, count: 3 * width * height))
  }

  /// `pixels / 255`.
  public init(_ image: RGBImage) {
    let n = image.width * image.height
    var d = [Float](repeating: 0, count: 3 * n)
    image.pixels.withUnsafeBufferPointer { p in
      for i in 0..<n {
        d[i] = Float(p[3 * i]) / 255
        d[n + i] = Float(p[3 * i + 1]) / 255
        d[2 * n + i] = Float(p[3 * i + 2]) / 255
      }
    }
    self.init(width: image.width, height: image.height, data: d)
  }

  public var pixelCount: Int { width * height }

  /// Back to 8 bits: `floor(255 * v + 0.5)`, clamped (the rounding the PyTorch reference uses).
  public func rgbImage() -> RGBImage {
    let n = pixelCount
    var p = [UInt8](repeating: 0, count: 3 * n)
    for i in 0..<n {
      for c in 0..<3 {
        p[3 * i + c] = quantise(data[c * n + i])
      }
    }
    return RGBImage(width: width, height: height, pixels: p)
  }
}

/// `floor(255 * v + 0.5)` clamped to 0...255.
@inlinable func quantise(_ v: Float) -> UInt8 {
  let s = (Double(v) * 255 + 0.5).rounded(.down)
  return UInt8(max(0, min(255, s)))
}
