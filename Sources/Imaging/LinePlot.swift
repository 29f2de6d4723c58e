/// A line plot on the unit square (both axes 0 to 1), rendered to an RGB image: the ROC and
/// precision-recall curves of `eval --plots`. Axes with ticks every 0.2 and their values, a
/// light grid, labelled axes, a title and a one-line legend, in the project's own bitmap font.
public struct LinePlot: Sendable {
  public struct Series: Sendable {
    public var points: [(Double, Double)]
    public var colour: (UInt8, UInt8, UInt8)
    public var dashed: Bool

    public init(points: [(Double, Double)], colour: (UInt8, UInt8, UInt8), dashed: Bool = false) {
      self.points = points
      self.colour = colour
      self.dashed = dashed
    }
  }

  public struct Marker: Sendable {
    public var x: Double
    public var y: Double
    public var colour: (UInt8, UInt8, UInt8)

    public init(x: Double, y: Double, colour: (UInt8, UInt8, UInt8)) {
      self.x = x
      self.y = y
      self.colour = colour
    }
  }

  public var title: String
  public var xLabel: String
  public var yLabel: String
  public var series: [Series] = []
  public var markers: [Marker] = []
  public var legend: String?
  public var width = 720
  public var height = 640

  public init(title: String, xLabel: String, yLabel: String) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
  }

  /// The plot area in pixels: left, top, right, bottom.
  public var frame: (left: Int, top: Int, right: Int, bottom: Int) {
    (90, 70, width - 30, height - 70)
  }

  /// Pixel of a data point (y up).
  public func pixel(_ x: Double, _ y: Double) -> (Int, Int) {
    let f = frame
    let px = Double(f.left) + min(max(x, 0), 1) * Double(f.right - f.left)
    let py = Double(f.bottom) - min(max(y, 0), 1) * Double(f.bottom - f.top)
    return (Int(px.rounded()), Int(py.rounded()))
  }

  public func render() -> RGBImage {
    var c = Canvas(width: width, height: height)
    let f = frame
    let grid: (UInt8, UInt8, UInt8) = (225, 225, 225)
    let ink: (UInt8, UInt8, UInt8) = (0, 0, 0)
    for i in 0...5 {
      let v = Double(i) / 5
      let (gx, _) = pixel(v, 0)
      let (_, gy) = pixel(0, v)
      c.line(gx, f.top, gx, f.bottom, grid, thickness: 1)
      c.line(f.left, gy, f.right, gy, grid, thickness: 1)
      let label = i == 5 ? "1.0" : "0.\(2 * i)"
      c.text(label, x: gx - BitmapFont.width(label, scale: 2) / 2, y: f.bottom + 10, scale: 2, ink)
      c.text(label, x: f.left - 12 - BitmapFont.width(label, scale: 2), y: gy - 7, scale: 2, ink)
      c.line(gx, f.bottom, gx, f.bottom + 5, ink, thickness: 1)
      c.line(f.left - 5, gy, f.left, gy, ink, thickness: 1)
    }
    for s in series {
      for (a, b) in zip(s.points, s.points.dropFirst()) {
        let (x0, y0) = pixel(a.0, a.1)
        let (x1, y1) = pixel(b.0, b.1)
        c.line(x0, y0, x1, y1, s.colour, thickness: 2, dashed: s.dashed)
      }
    }
    for m in markers {
      let (x, y) = pixel(m.x, m.y)
      c.disc(x, y, radius: 6, m.colour)
    }
    c.line(f.left, f.top, f.left, f.bottom, ink, thickness: 1)
    c.line(f.left, f.bottom, f.right, f.bottom, ink, thickness: 1)
    c.line(f.left, f.top, f.right, f.top, ink, thickness: 1)
    c.line(f.right, f.top, f.right, f.bottom, ink, thickness: 1)
    c.text(fitted(title, scale: 2, room: width - 20), x: 10, y: 12, scale: 2, ink)
    if let legend { c.text(fitted(legend, scale: 1, room: width - 20), x: 10, y: 40, scale: 1, (60, 60, 60)) }
    c.text(
      xLabel, x: (f.left + f.right - BitmapFont.width(xLabel, scale: 2)) / 2, y: f.bottom + 36, scale: 2, ink)
    c.verticalText(
      yLabel, x: 14, y: (f.top + f.bottom + BitmapFont.width(yLabel, scale: 2)) / 2, scale: 2, ink)
    return c.image
  }

  /// `text` shortened with "..." to fit `room` pixels.
  private func fitted(_ text: String, scale: Int, room: Int) -> String {
    var t = text
    while BitmapFont.width(t, scale: scale) > room && t.count > 3 { t = String(t.dropLast(4)) + "..." }
    return t
  }
}

/// Pixels with clipping: lines, discs and bitmap text.
struct Canvas {
  var image: RGBImage

  init(width: Int, height: Int) {
    image = RGBImage(width: width, height: height, fill: (255, 255, 255))
  }

  mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
    guard x >= 0, y >= 0, x < image.width, y < image.height else { return }
    let i = (y * image.width + x) * 3
    image.pixels[i] = c.0
    image.pixels[i + 1] = c.1
    image.pixels[i + 2] = c.2
  }

  /// Bresenham, `thickness` pixels square per step; dashed: 8 on, 6 off.
  mutating func line(
    _ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8), thickness: Int,
    dashed: Bool = false
  ) {
    var x = x0
    var y = y0
    let dx = abs(x1 - x0)
    let dy = -abs(y1 - y0)
    let sx = x0 < x1 ? 1 : -1
    let sy = y0 < y1 ? 1 : -1
    var err = dx + dy
    var step = 0
    while true {
      if !dashed || step % 14 < 8 {
        for oy in 0..<thickness {
          for ox in 0..<thickness { set(x + ox - thickness / 2, y + oy - thickness / 2, c) }
        }
      }
      step += 1
      if x == x1 && y == y1 { break }
      let e2 = 2 * err
      if e2 >= dy {
        err += dy
        x += sx
      }
      if e2 <= dx {
        err += dx
        y += sy
      }
    }
  }

  mutating func disc(_ cx: Int, _ cy: Int, radius r: Int, _ c: (UInt8, UInt8, UInt8)) {
    for y in -r...r { for x in -r...r where x * x + y * y <= r * r { set(cx + x, cy + y, c) } }
  }

  /// Left to right from (x, y), the glyphs' top-left corner.
  mutating func text(_ s: String, x: Int, y: Int, scale: Int, _ c: (UInt8, UInt8, UInt8)) {
    var gx = x
    for ch in s {
      glyph(ch, scale: scale, c) { px, py in (gx + px, y + py) }
      gx += BitmapFont.advance * scale
    }
  }

  /// Bottom to top (turned a quarter counter-clockwise) from (x, y), the first glyph's bottom-left.
  mutating func verticalText(_ s: String, x: Int, y: Int, scale: Int, _ c: (UInt8, UInt8, UInt8)) {
    var gy = y
    for ch in s {
      glyph(ch, scale: scale, c) { px, py in (x + py, gy - px) }
      gy -= BitmapFont.advance * scale
    }
  }

  private mutating func glyph(
    _ ch: Character, scale: Int, _ c: (UInt8, UInt8, UInt8), at place: (Int, Int) -> (Int, Int)
  ) {
    let rows = BitmapFont.rows(ch)
    for (r, bits) in rows.enumerated() {
      for col in 0..<BitmapFont.glyphWidth where bits & (1 << (4 - col)) != 0 {
        for oy in 0..<scale {
          for ox in 0..<scale {
            let (px, py) = place(col * scale + ox, r * scale + oy)
            set(px, py, c)
          }
        }
      }
    }
  }
}
