import Foundation

/// The colour operations of augmentation, evaluation shifts and the audit, defined once.
///
/// Each is the formula of `tools/torch/augment.py` (and docs/checkpoint-format.md), so a recipe
/// chosen with the PyTorch reference means the same thing here. Values are computed in Double per
/// pixel and stored as Float.
public enum ColourOperations {
  /// ITU-R BT.601 luma weights (grayscale, saturation and contrast).
  public static let luma: (r: Double, g: Double, b: Double) = (0.299, 0.587, 0.114)

  /// Ruifrok & Johnston optical-density vectors of haematoxylin, eosin and DAB (rows), as scikit-image.
  public static let rgbFromHED: [[Double]] = [[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]]
  public static let hedFromRGB: [[Double]] = invert3x3(rgbFromHED)
  /// Intensities are clamped to at least this before the logarithm of optical density.
  public static let odEpsilon = 1.0 / 255.0

  /// Rotates the HSV hue by `degrees` (saturation and value kept): it stays in gamut and
  /// rotating back by `-degrees` restores the image up to float rounding.
  public static func rotateHue(_ image: inout PlanarImage, degrees: Double) {
    let shift = degrees / 360
    mapPixels(&image) { r, g, b in
      var (h, s, v) = rgbToHSV(r, g, b)
      h = (h + shift).truncatingRemainder(dividingBy: 1)
      if h < 0 { h += 1 }
      return hsvToRGB(h, s, v)
    }
  }

  /// `gray + factor * (x - gray)` per pixel, gray = the pixel's luma; clamped to [0, 1].
  public static func saturate(_ image: inout PlanarImage, factor: Double) {
    mapPixels(&image) { r, g, b in
      let y = luma.r * r + luma.g * g + luma.b * b
      return (clamp01(y + factor * (r - y)), clamp01(y + factor * (g - y)), clamp01(y + factor * (b - y)))
    }
  }

  /// `x * factor`, clamped.
  public static func brighten(_ image: inout PlanarImage, factor: Double) {
    mapPixels(&image) { r, g, b in (clamp01(r * factor), clamp01(g * factor), clamp01(b * factor)) }
  }

  /// `m + factor * (x - m)`, m = the image's mean luma; clamped.
  public static func contrast(_ image: inout PlanarImage, factor: Double) {
    let n = image.pixelCount
    guard n > 0 else { return }
    var sum = 0.0
    for i in 0..<n {
      sum +=
        luma.r * Double(image.data[i]) + luma.g * Double(image.data[n + i]) + luma.b
        * Double(image.data[2 * n + i])
    }
    let m = sum / Double(n)
    mapPixels(&image) { r, g, b in
      (clamp01(m + factor * (r - m)), clamp01(m + factor * (g - m)), clamp01(m + factor * (b - m)))
    }
  }

  /// Luma in all three channels.
  public static func grayscale(_ image: inout PlanarImage) {
    mapPixels(&image) { r, g, b in
      let y = luma.r * r + luma.g * g + luma.b * b
      return (y, y, y)
    }
  }

  /// Stain jitter in optical-density space (Tellez et al. 2018): od = -ln(max(x, 1/255));
  /// stains c = od · HED_FROM_RGB; c' = alpha * c + beta per stain; x = exp(-(c' · RGB_FROM_HED)), clamped.
  public static func jitterStains(
    _ image: inout PlanarImage, alpha: (Double, Double, Double), beta: (Double, Double, Double)
  ) {
    let mi = hedFromRGB
    let mo = rgbFromHED
    mapPixels(&image) { r, g, b in
      let o0 = -log(max(r, odEpsilon))
      let o1 = -log(max(g, odEpsilon))
      let o2 = -log(max(b, odEpsilon))
      let c0 = (o0 * mi[0][0] + o1 * mi[1][0] + o2 * mi[2][0]) * alpha.0 + beta.0
      let c1 = (o0 * mi[0][1] + o1 * mi[1][1] + o2 * mi[2][1]) * alpha.1 + beta.1
      let c2 = (o0 * mi[0][2] + o1 * mi[1][2] + o2 * mi[2][2]) * alpha.2 + beta.2
      return (
        clamp01(exp(-(c0 * mo[0][0] + c1 * mo[1][0] + c2 * mo[2][0]))),
        clamp01(exp(-(c0 * mo[0][1] + c1 * mo[1][1] + c2 * mo[2][1]))),
        clamp01(exp(-(c0 * mo[0][2] + c1 * mo[1][2] + c2 * mo[2][2])))
      )
    }
  }

  // MARK: helpers

  static func mapPixels(
    _ image: inout PlanarImage, _ f: (Double, Double, Double) -> (Double, Double, Double)
  ) {
    let n = image.pixelCount
    image.data.withUnsafeMutableBufferPointer { d in
      for i in 0..<n {
        let (r, g, b) = f(Double(d[i]), Double(d[n + i]), Double(d[2 * n + i]))
        d[i] = Float(r)
        d[n + i] = Float(g)
        d[2 * n + i] = Float(b)
      }
    }
  }

  @inlinable static func clamp01(_ v: Double) -> Double { min(1, max(0, v)) }

  /// HSV with hue in [0, 1), as Python's colorsys / torchvision.
  static func rgbToHSV(_ r: Double, _ g: Double, _ b: Double) -> (Double, Double, Double) {
    let maxc = max(r, g, b)
    let minc = min(r, g, b)
    let delta = maxc - minc
    let s = maxc > 0 ? delta / maxc : 0
    guard delta > 0 else { return (0, s, maxc) }
    let rc = (maxc - r) / delta
    let gc = (maxc - g) / delta
    let bc = (maxc - b) / delta
    var h: Double
    if maxc == r {
      h = bc - gc
    } else if maxc == g {
      h = 2 + rc - bc
    } else {
      h = 4 + gc - rc
    }
    h = (h / 6).truncatingRemainder(dividingBy: 1)
    if h < 0 { h += 1 }
    return (h, s, maxc)
  }

  static func hsvToRGB(_ h: Double, _ s: Double, _ v: Double) -> (Double, Double, Double) {
    let i6 = (h * 6).rounded(.down)
    let f = h * 6 - i6
    let p = v * (1 - s)
    let q = v * (1 - s * f)
    let t = v * (1 - s * (1 - f))
    switch ((Int(i6) % 6) + 6) % 6 {
    case 0: return (v, t, p)
    case 1: return (q, v, p)
    case 2: return (p, v, t)
    case 3: return (p, q, v)
    case 4: return (t, p, v)
    default: return (v, p, q)
    }
  }

  static func invert3x3(_ m: [[Double]]) -> [[Double]] {
    let a = m[0][0]
    let b = m[0][1]
    let c = m[0][2]
    let d = m[1][0]
    let e = m[1][1]
    let f = m[1][2]
    let g = m[2][0]
    let h = m[2][1]
    let i = m[2][2]
    let det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return [
      [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
      [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
      [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
    ]
  }
}
