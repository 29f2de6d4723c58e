import Foundation
import Imaging
import Terminal

/// How a mask overlay is drawn (issue 18, item 6): filled (tinted, the default) or as its outline,
/// so the chromatin inside the nucleus stays visible. One choice for every mask overlay: the
/// case view's, the mask editor's and the adjudication's. `O` switches it and the workspace keeps
/// it (`ReviewApp.maskStyleSetting`).
public enum MaskOverlayStyle: String, Equatable, Sendable {
  case fill
  case outline

  /// What the panels and the legend call it.
  public var description: String { self == .fill ? "filled" : "outline" }

  /// The key hint: what `O` switches to.
  var hint: String { self == .fill ? "O outline" : "O fill" }

  /// What an image key gains, so the renderer redraws an image when the style changes.
  var keySuffix: String { self == .fill ? "" : "|outline" }
}

extension ReviewApp {
  /// The workspace setting that keeps `O`'s choice ("fill" or "outline").
  public static let maskStyleSetting = "review_mask_overlay"
}

/// `O`: mask overlays switch between fill and outline, everywhere, and the choice is saved.
func maskStyleAction(_ state: AppState) -> (AppState, [Effect]) {
  var s = state
  s.maskStyle = s.maskStyle == .fill ? .outline : .fill
  s.status = StatusMessage(
    s.maskStyle == .outline
      ? "Masks drawn as outlines: the chromatin inside stays visible (O fills them)"
      : "Masks drawn filled (O draws outlines)")
  return (s, [.saveSetting(name: ReviewApp.maskStyleSetting, value: s.maskStyle.rawValue)])
}

extension Mask {
  /// The mask's boundary: nucleus pixels (value ≥ 128, as `MaskEditor.nucleusPixels` counts
  /// them) with a 4-neighbour that is background or outside the image, as 255; everything else
  /// 0. A nucleus touching the image's edge is closed by the edge. Computed on the mask at the
  /// size it is drawn, so the line is one drawn pixel wide.
  public func outline() -> Mask {
    var out = Mask(width: width, height: height)
    guard width > 0, height > 0 else { return out }
    values.withUnsafeBufferPointer { v in
      func inside(_ x: Int, _ y: Int) -> Bool {
        x >= 0 && y >= 0 && x < width && y < height && v[y * width + x] >= 128
      }
      for y in 0..<height {
        for x in 0..<width where v[y * width + x] >= 128 {
          if !inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) || !inside(x, y + 1) {
            out.values[y * width + x] = 255
          }
        }
      }
    }
    return out
  }
}

extension Mask {
  /// The part `shown` of the mask (clipped to it), scaled to `width` × `height` by nearest
  /// neighbour: the mask as a zoomed view shows it, so its outline is computed at the size it
  /// is drawn, one screen pixel wide at every zoom.
  public func part(_ shown: PixelRect, width w: Int, height h: Int) -> Mask {
    let r = shown.intersection(PixelRect(x: 0, y: 0, width: width, height: height))
    guard !(r.x == 0 && r.y == 0 && r.width == width && r.height == height) else {
      return resized(width: w, height: h)
    }
    var cut = Mask(width: r.width, height: r.height)
    for y in 0..<r.height {
      for x in 0..<r.width { cut.values[y * r.width + x] = values[(r.y + y) * width + r.x + x] }
    }
    return cut.resized(width: w, height: h)
  }
}

extension RGBImage {
  /// This image with `mask` drawn in `colour`: tinted at 45 % (fill), or its outline painted
  /// opaque (outline), the mask first scaled to this image's size (nearest neighbour).
  public func drawingMask(_ mask: Mask, colour c: [UInt8], style: MaskOverlayStyle) -> RGBImage {
    let m = mask.width == width && mask.height == height ? mask : mask.resized(width: width, height: height)
    let colour = (c[0], c[1], c[2])
    switch style {
    case .fill:
      return blendingOverlay(m, colour: colour, alpha: 0.45)
    case .outline:
      return blendingOverlay(m.outline(), colour: colour, alpha: 1)
    }
  }
}

/// The mask editor's cursor (issue 18, item 6: the white brush ring vanished over the filled
/// mask and the pale background). A ring at the brush radius and a cross at the centre pixel;
/// each marker pixel takes the theme's brush colour where that contrasts at least 3:1
/// (`Contrast.graphics`) with what is drawn beneath it (the image with its overlay), else black
/// or white, whichever contrasts more: at least 4.58:1 against any colour. So the marker stays
/// visible over the chromatin, the fill, the outline and the background alike.
enum CursorMarker {
  /// The marker's pixels for a cursor at display pixel centre (`cx`, `cy`), ring radius `r`,
  /// inside a `width` × `height` image.
  static func pixels(cx: Double, cy: Double, radius r: Double, width: Int, height: Int) -> [(Int, Int)] {
    var seen = Set<Int>()
    var out: [(Int, Int)] = []
    func add(_ x: Int, _ y: Int) {
      guard x >= 0, y >= 0, x < width, y < height, seen.insert(y * width + x).inserted else { return }
      out.append((x, y))
    }
    let steps = max(16, Int(r * 8))
    for i in 0..<steps {
      let t = Double(i) / Double(steps) * 2 * Double.pi
      add(Int((cx + r * cos(t)).rounded()), Int((cy + r * sin(t)).rounded()))
    }
    let px = Int(cx)
    let py = Int(cy)
    // The cross's arms reach half way to the ring, so the pixel under the cursor stays in sight.
    let arm = max(1, min(3, Int(r / 2)))
    add(px, py)
    for d in 1...arm {
      add(px - d, py)
      add(px + d, py)
      add(px, py - d)
      add(px, py + d)
    }
    return out
  }

  /// The colour of a marker pixel drawn over `under`.
  static func colour(over under: (UInt8, UInt8, UInt8), brush: (UInt8, UInt8, UInt8)) -> (UInt8, UInt8, UInt8)
  {
    let beneath = RGB(under.0, under.1, under.2)
    if Contrast.ratio(RGB(brush.0, brush.1, brush.2), beneath) >= Contrast.graphics { return brush }
    return Contrast.ratio(.black, beneath) >= Contrast.ratio(.white, beneath) ? (0, 0, 0) : (255, 255, 255)
  }

  /// Draws the marker into `image`, each pixel against what is beneath it.
  static func draw(
    into image: inout RGBImage, cx: Double, cy: Double, radius r: Double, brush: (UInt8, UInt8, UInt8)
  ) {
    for (x, y) in pixels(cx: cx, cy: cy, radius: r, width: image.width, height: image.height) {
      image[x, y] = colour(over: image[x, y], brush: brush)
    }
  }
}
