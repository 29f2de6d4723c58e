import Imaging

/// A per-pixel attribution (a heatmap): how much each pixel speaks for the explained class.
/// LIME's is its superpixel's weight (negative where a region speaks against the class);
/// Grad-CAM's is non-negative. Values are in the explanation's own units; overlays scale by
/// `maxAbsolute`.
public struct AttributionMap: Equatable, Sendable {
  public let width: Int
  public let height: Int
  /// Row-major, `width * height` values.
  public var values: [Float]

  public init(width: Int, height: Int, values: [Float]) {
    precondition(width > 0 && height > 0 && values.count == width * height)
    self.width = width
    self.height = height
    self.values = values
  }

  /// Each pixel carries its region's weight.
  public init(superpixels sp: Superpixels, weights: [Double]) {
    precondition(weights.count == sp.count)
    self.init(width: sp.width, height: sp.height, values: sp.labels.map { Float(weights[Int($0)]) })
  }

  public subscript(x: Int, y: Int) -> Float { values[y * width + x] }

  /// The largest |value| (0 for an all-zero map): the full-strength end of an overlay's scale.
  public var maxAbsolute: Float { values.reduce(0) { max($0, abs($1)) } }

  /// The share of the positive attribution that falls inside `rect` (clipped to the map):
  /// Σ_rect max(v, 0) / Σ_all max(v, 0). Nil when nothing is positive (the share is undefined).
  public func positiveShare(in rect: PixelRect) -> Double? {
    let r = rect.clipped(toWidth: width, height: height)
    var inside = 0.0
    var total = 0.0
    for y in 0..<height {
      for x in 0..<width {
        let v = Double(max(values[y * width + x], 0))
        total += v
        if x >= r.x && x < r.maxX && y >= r.y && y < r.maxY { inside += v }
      }
    }
    return total > 0 ? inside / total : nil
  }

  public enum Interpolation: Sendable {
    /// Nearest neighbour: keeps LIME's region edges sharp.
    case nearest
    /// Bilinear with half-pixel centres and clamped edges (PyTorch's `align_corners=False`):
    /// Grad-CAM's coarse map brought up to the image.
    case bilinear
  }

  /// The map at another size.
  public func resized(width w: Int, height h: Int, interpolation: Interpolation) -> AttributionMap {
    precondition(w > 0 && h > 0)
    if w == width && h == height { return self }
    var out = [Float](repeating: 0, count: w * h)
    switch interpolation {
    case .nearest:
      for y in 0..<h {
        let sy = (2 * y + 1) * height / (2 * h)
        for x in 0..<w {
          out[y * w + x] = values[sy * width + (2 * x + 1) * width / (2 * w)]
        }
      }
    case .bilinear:
      let xs = BilinearAxis(source: width, target: w)
      let ys = BilinearAxis(source: height, target: h)
      for y in 0..<h {
        let (y0, y1, fy) = ys.taps[y]
        for x in 0..<w {
          let (x0, x1, fx) = xs.taps[x]
          let top = values[y0 * width + x0] * (1 - fx) + values[y0 * width + x1] * fx
          let bottom = values[y1 * width + x0] * (1 - fx) + values[y1 * width + x1] * fx
          out[y * w + x] = top * (1 - fy) + bottom * fy
        }
      }
    }
    return AttributionMap(width: w, height: h, values: out)
  }
}

/// Source taps of bilinear resampling along one axis: the output pixel o sits at source coordinate
/// (o + 0.5)·in/out − 0.5, clamped at 0 (as PyTorch's `interpolate(mode="bilinear",
/// align_corners=False)`).
struct BilinearAxis {
  let taps: [(Int, Int, Float)]

  init(source: Int, target: Int) {
    let scale = Float(source) / Float(target)
    taps = (0..<target).map { o in
      let s = max((Float(o) + 0.5) * scale - 0.5, 0)
      let i0 = min(Int(s), source - 1)
      let i1 = min(i0 + 1, source - 1)
      return (i0, i1, s - Float(i0))
    }
  }
}
