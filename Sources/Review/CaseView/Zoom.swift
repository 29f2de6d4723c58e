import Imaging
import Terminal

/// Zoom and pan of the case image in the case view, the mask editor and the adjudication
/// screen (issue 18, item 9: 224-pixel fields were only ever shown blown up to the panel and
/// blurred, and the adjudication's three images were small). `level` magnifies the fitted
/// view; the part of the image in view is drawn into the same cells. Where a screen pixel is
/// larger than an image pixel, the pixels are repeated (nearest neighbour), so a zoomed view
/// shows the image's own pixels, chromatin grain and mask edges as they are, not a blur.
/// Pure value type: `update` changes it, the view reads it.
public struct Zoom: Equatable, Sendable {
  /// Magnifications over the fitted view.
  public static let levels = [1, 2, 4, 8, 16]

  public private(set) var level = 1
  /// The centre of the view, as fractions of the image's width and height.
  public private(set) var centreX = 0.5
  public private(set) var centreY = 0.5

  public init() {}

  public var isFitted: Bool { level == 1 }

  /// Zooms in (or out) one level, keeping the image point at fractions (`fx`, `fy`) where it
  /// is on screen (the mouse position for the wheel, the centre for keys).
  public mutating func step(in zoomIn: Bool, at fx: Double? = nil, _ fy: Double? = nil) {
    guard let i = Zoom.levels.firstIndex(of: level) else { return }
    let j = zoomIn ? min(Zoom.levels.count - 1, i + 1) : max(0, i - 1)
    let next = Zoom.levels[j]
    guard next != level else { return }
    let px = fx ?? centreX
    let py = fy ?? centreY
    let ratio = Double(level) / Double(next)
    centreX = px + (centreX - px) * ratio
    centreY = py + (centreY - py) * ratio
    level = next
    clampCentre()
  }

  /// The same magnification, centred (another case opens).
  public mutating func recentre() {
    centreX = 0.5
    centreY = 0.5
  }

  /// Back to the whole image.
  public mutating func fit() {
    level = 1
    centreX = 0.5
    centreY = 0.5
  }

  /// Moves the view by a quarter of what is in view, per step, in each direction.
  public mutating func pan(dx: Int, dy: Int) {
    let visible = 1 / Double(level)
    centreX += Double(dx) * visible / 4
    centreY += Double(dy) * visible / 4
    clampCentre()
  }

  /// Recentres on an image pixel when it is out of view (the mask editor's cursor).
  public mutating func keepVisible(x: Int, y: Int, width: Int, height: Int) {
    guard !isFitted, width > 0, height > 0 else { return }
    let v = visible(width: width, height: height)
    guard x < v.x || y < v.y || x >= v.maxX || y >= v.maxY else { return }
    centreX = (Double(x) + 0.5) / Double(width)
    centreY = (Double(y) + 0.5) / Double(height)
    clampCentre()
  }

  private mutating func clampCentre() {
    let half = 0.5 / Double(level)
    centreX = min(1 - half, max(half, centreX))
    centreY = min(1 - half, max(half, centreY))
  }

  /// The part of a `width` × `height` image in view.
  public func visible(width: Int, height: Int) -> PixelRect {
    guard level > 1 else { return PixelRect(x: 0, y: 0, width: width, height: height) }
    let w = max(1, (width + level - 1) / level)
    let h = max(1, (height + level - 1) / level)
    let x = min(width - w, max(0, Int((centreX * Double(width) - Double(w) / 2).rounded())))
    let y = min(height - h, max(0, Int((centreY * Double(height) - Double(h) / 2).rounded())))
    return PixelRect(x: x, y: y, width: w, height: h)
  }

  /// What to add to an image key so each view of the image has its own key.
  public func key(width: Int, height: Int) -> String {
    guard level > 1 else { return "" }
    let v = visible(width: width, height: height)
    return "|zoom\(level)@\(v.x),\(v.y)"
  }

  /// The source showing the part in view of `source` (a `width` × `height` image), at the
  /// size the renderer asks for: the full image is rendered (overlays included) at no more
  /// than its own resolution, cut to the part in view, then magnified pixel for pixel.
  public func apply(to source: ImageSource, width: Int, height: Int) -> ImageSource {
    guard level > 1, width > 0, height > 0 else { return source }
    let v = visible(width: width, height: height)
    return ImageSource(width: v.width, height: v.height) { w, h in
      // Screen pixels per image pixel in view; the full image is never rendered above its
      // own resolution.
      let scale = min(1, max(Double(w) / Double(v.width), Double(h) / Double(v.height)))
      let fullW = max(1, Int((Double(width) * scale).rounded()))
      let fullH = max(1, Int((Double(height) * scale).rounded()))
      // A two-step source's lines are drawn after the magnification, one screen pixel wide.
      guard let full = (source.base ?? source.render)(fullW, fullH) else { return nil }
      let sx = Double(fullW) / Double(width)
      let sy = Double(fullH) / Double(height)
      let x0 = min(fullW - 1, Int((Double(v.x) * sx).rounded(.down)))
      let y0 = min(fullH - 1, Int((Double(v.y) * sy).rounded(.down)))
      let cw = max(1, min(fullW - x0, Int((Double(v.width) * sx).rounded())))
      let ch = max(1, min(fullH - y0, Int((Double(v.height) * sy).rounded())))
      var out = full.cropped(PixelRect(x: x0, y: y0, width: cw, height: ch)).nearestResized(
        width: w, height: h)
      source.decorate?(&out, v)
      return out
    }
  }

  /// The image pixel at fractions (`fx`, `fy`) of the view, for a `width` × `height` image.
  public func imagePixel(fx: Double, fy: Double, width: Int, height: Int) -> (x: Int, y: Int) {
    let v = visible(width: width, height: height)
    let x = v.x + Int(fx * Double(v.width))
    let y = v.y + Int(fy * Double(v.height))
    return (min(width - 1, max(0, x)), min(height - 1, max(0, y)))
  }

  /// A change in image pixels as a damage record of the view (nil when none of it is in view).
  public func damage(_ rect: PixelRect, since: String, width: Int, height: Int) -> ImageDamage? {
    let v = visible(width: width, height: height)
    let part = rect.intersection(v)
    guard !part.isEmpty else { return nil }
    return ImageDamage(
      since: since,
      pixels: PixelRect(x: part.x - v.x, y: part.y - v.y, width: part.width, height: part.height),
      imageWidth: v.width, imageHeight: v.height)
  }

  /// The panel's lines: "Zoom 4×: x 45–74, y 45–74" and "1 image px = 2.6 screen px".
  public func description(width: Int, height: Int, fit: ImageFit) -> [String] {
    guard level > 1 else { return ["Zoom: whole image (+ zooms in)"] }
    let v = visible(width: width, height: height)
    let perPixel = Double(fit.pixelWidth) / Double(max(1, v.width))
    return [
      "Zoom \(level)×: x \(v.x)–\(v.maxX - 1), y \(v.y)–\(v.maxY - 1)",
      "  1 image px = \(String(format: "%.1f", perPixel)) screen px",
    ]
  }
}

extension RGBImage {
  /// The pixels inside `rect` (clipped to the image).
  func cropped(_ rect: PixelRect) -> RGBImage {
    let r = rect.intersection(PixelRect(x: 0, y: 0, width: width, height: height))
    guard !r.isEmpty else { return RGBImage(width: 0, height: 0) }
    var out = [UInt8](repeating: 0, count: r.width * r.height * 3)
    for row in 0..<r.height {
      let src = ((r.y + row) * width + r.x) * 3
      out.replaceSubrange(row * r.width * 3..<(row + 1) * r.width * 3, with: pixels[src..<src + r.width * 3])
    }
    return RGBImage(width: r.width, height: r.height, pixels: out)
  }

  /// A `newWidth` × `newHeight` copy where each output pixel is the source pixel under its
  /// centre: magnified pixels stay sharp squares.
  func nearestResized(width newWidth: Int, height newHeight: Int) -> RGBImage {
    if newWidth == width && newHeight == height { return self }
    guard width > 0, height > 0, newWidth > 0, newHeight > 0 else {
      return RGBImage(width: max(0, newWidth), height: max(0, newHeight))
    }
    var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
    for y in 0..<newHeight {
      let sy = min(height - 1, (2 * y + 1) * height / (2 * newHeight))
      for x in 0..<newWidth {
        let sx = min(width - 1, (2 * x + 1) * width / (2 * newWidth))
        let s = (sy * width + sx) * 3
        let d = (y * newWidth + x) * 3
        out[d] = pixels[s]
        out[d + 1] = pixels[s + 1]
        out[d + 2] = pixels[s + 2]
      }
    }
    return RGBImage(width: newWidth, height: newHeight, pixels: out)
  }
}

/// What the zoom keys and the mouse wheel do.
public enum ZoomAction: Equatable, Hashable, Sendable {
  case zoomIn, zoomOut, fit
  /// Pan by quarters of the view.
  case pan(dx: Int, dy: Int)
}

extension KeyMap {
  /// Zoom keys of the case view, the mask editor and the adjudication screen.
  static let zoomKeys: [KeyBinding] = [
    KeyBinding(
      keys: [KeyPress("+"), KeyPress("=")], action: .zoom(.zoomIn), help: "zoom in (also the mouse wheel)"),
    KeyBinding(keys: [KeyPress("-")], action: .zoom(.zoomOut), help: "zoom out"),
    KeyBinding(keys: [KeyPress("z")], action: .zoom(.fit), help: "whole image (zoom back out)"),
  ]

  /// Pan keys where the arrows do something else (the mask editor pans with its cursor).
  static let panKeys: [KeyBinding] = [
    KeyBinding(
      keys: [KeyPress(.left, .shift), KeyPress("H")], action: .zoom(.pan(dx: -1, dy: 0)),
      help: "pan left (zoomed)"),
    KeyBinding(
      keys: [KeyPress(.right, .shift), KeyPress("L")], action: .zoom(.pan(dx: 1, dy: 0)),
      help: "pan right (zoomed)"),
    KeyBinding(
      keys: [KeyPress(.up, .shift), KeyPress("K")], action: .zoom(.pan(dx: 0, dy: -1)),
      help: "pan up (zoomed)"),
    KeyBinding(
      keys: [KeyPress(.down, .shift), KeyPress("J")], action: .zoom(.pan(dx: 0, dy: 1)),
      help: "pan down (zoomed)"),
  ]
}

/// Zoom keys and the wheel: the view changes, nothing is saved.
func zoomAction(_ state: AppState, _ action: ZoomAction, at point: (Double, Double)? = nil) -> (
  AppState, [Effect]
) {
  var s = state
  switch action {
  case .zoomIn: s.zoom.step(in: true, at: point?.0, point?.1)
  case .zoomOut: s.zoom.step(in: false, at: point?.0, point?.1)
  case .fit: s.zoom.fit()
  case .pan(let dx, let dy):
    guard !s.zoom.isFitted else {
      s.status = StatusMessage("Zoom in first (+ or the mouse wheel); the whole image is in view")
      return (s, [])
    }
    s.zoom.pan(dx: dx, dy: dy)
  }
  return (s, [])
}
