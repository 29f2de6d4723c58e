import Imaging

/// An sRGB colour of an overlay.
public struct OverlayColour: Equatable, Hashable, Sendable {
  public var r: UInt8
  public var g: UInt8
  public var b: UInt8
  public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
    self.r = r
    self.g = g
    self.b = b
  }
}

/// How an explanation is drawn. The default pair orange/blue is a diverging palette that
/// stays distinguishable under the common colour-vision deficiencies (ColorBrewer PuOr/RdBu ends),
/// and the outline is a yellow line between black edges so it shows on pale background and on dark
/// nuclei alike.
public struct ExplanationOverlayStyle: Equatable, Sendable {
  /// Tint of pixels that speak for the explained class.
  public var positive = OverlayColour(230, 97, 1)
  /// Tint of pixels that speak against it (LIME only; Grad-CAM is never negative).
  public var negative = OverlayColour(33, 102, 172)
  /// The top regions' outline, and the edge drawn on both sides of it.
  public var outline = OverlayColour(255, 221, 0)
  public var outlineEdge = OverlayColour(0, 0, 0)
  /// Opacity of the tint at the map's largest |value|; it falls linearly to 0 at `threshold`.
  public var maxOpacity: Float = 0.6
  /// Values under this fraction of the largest |value| are not tinted, so the weak, noisy part of
  /// an explanation does not wash over the whole image.
  public var threshold: Float = 0.1

  public init() {}
  public static let standard = ExplanationOverlayStyle()
}

/// Draws an explanation over an image: the heatmap as a tint, then the outlines of the top regions.
public enum ExplanationOverlay {
  /// `heatmap` is brought to the image's size (`interpolation`: nearest for LIME's regions,
  /// bilinear for Grad-CAM), tinted with `style`; `outline` (a 0/255 mask, resized to the image by
  /// nearest neighbour when needed) is drawn on top.
  public static func render(
    _ image: RGBImage, heatmap: AttributionMap, interpolation: AttributionMap.Interpolation,
    outline: Mask? = nil, style: ExplanationOverlayStyle = .standard
  ) -> RGBImage {
    guard image.width > 0, image.height > 0 else { return image }
    let map = heatmap.resized(width: image.width, height: image.height, interpolation: interpolation)
    let peak = map.maxAbsolute
    var out = image
    if peak > 0 {
      let t = min(max(style.threshold, 0), 0.999)
      out.pixels.withUnsafeMutableBufferPointer { p in
        for i in 0..<map.values.count {
          let v = map.values[i] / peak
          let s = abs(v)
          guard s > t else { continue }
          let a = style.maxOpacity * (s - t) / (1 - t)
          let c = v > 0 ? style.positive : style.negative
          blend(&p, 3 * i, c, a)
        }
      }
    }
    if let outline {
      let m =
        (outline.width == image.width && outline.height == image.height)
        ? outline : outline.resized(width: image.width, height: image.height)
      let w = image.width
      let h = image.height
      out.pixels.withUnsafeMutableBufferPointer { p in
        for y in 0..<h {
          for x in 0..<w {
            let i = y * w + x
            if m.values[i] > 0 {
              blend(&p, 3 * i, style.outline, 1)
            } else if (x > 0 && m.values[i - 1] > 0) || (x < w - 1 && m.values[i + 1] > 0)
              || (y > 0 && m.values[i - w] > 0) || (y < h - 1 && m.values[i + w] > 0)
            {
              blend(&p, 3 * i, style.outlineEdge, 1)
            }
          }
        }
      }
    }
    return out
  }

  private static func blend(
    _ p: inout UnsafeMutableBufferPointer<UInt8>, _ j: Int, _ c: OverlayColour, _ a: Float
  ) {
    let k = 1 - a
    p[j] = UInt8((k * Float(p[j]) + a * Float(c.r)).rounded())
    p[j + 1] = UInt8((k * Float(p[j + 1]) + a * Float(c.g)).rounded())
    p[j + 2] = UInt8((k * Float(p[j + 2]) + a * Float(c.b)).rounded())
  }
}
