import Foundation
import Testing

@testable import Imaging

/// The plots `eval --plots` writes: the data land on the pixels the axes say, the marker where
/// it belongs, and the labels are drawn (ink in the title, tick and axis-label areas).
@Suite struct LinePlotTests {
  static func colour(_ im: RGBImage, _ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) {
    let i = (y * im.width + x) * 3
    return (im.pixels[i], im.pixels[i + 1], im.pixels[i + 2])
  }

  static func ink(_ im: RGBImage, x: Range<Int>, y: Range<Int>) -> Int {
    var n = 0
    for yy in y { for xx in x where colour(im, xx, yy) == (0, 0, 0) { n += 1 } }
    return n
  }

  @Test func curvePixelsAxesAndLabels() throws {
    var plot = LinePlot(title: "ROC", xLabel: "False positive rate", yLabel: "True positive rate")
    plot.series.append(.init(points: [(0, 0), (0.2, 0.8), (1, 1)], colour: (0, 90, 200)))
    plot.markers.append(.init(x: 0.2, y: 0.8, colour: (210, 30, 30)))
    let im = plot.render()
    #expect(im.width == 720 && im.height == 640)
    let f = plot.frame
    // Axis ends: (0, 0) bottom-left of the frame, (1, 1) top-right.
    #expect(plot.pixel(0, 0) == (f.left, f.bottom))
    #expect(plot.pixel(1, 1) == (f.right, f.top))
    // Halfway along the second segment (0.2, 0.8) → (1, 1): the curve's colour.
    let (mx, my) = plot.pixel(0.6, 0.9)
    let near = (-1...1).flatMap { dy in (-1...1).map { dx in Self.colour(im, mx + dx, my + dy) } }
    #expect(near.contains { $0 == (0, 90, 200) })
    // The marker covers its point.
    let (px, py) = plot.pixel(0.2, 0.8)
    #expect(Self.colour(im, px, py) == (210, 30, 30))
    // Far from the curve inside the plot: background or grid, not ink.
    let (bx, by) = plot.pixel(0.9, 0.1)
    #expect(Self.colour(im, bx + 3, by + 3) == (255, 255, 255))
    // Text: the title at the top, tick values under the x axis, the x label below them and
    // the vertical y label at the left edge.
    #expect(Self.ink(im, x: 0..<200, y: 10..<28) > 40)
    #expect(Self.ink(im, x: f.left - 20..<f.right + 20, y: f.bottom + 8..<f.bottom + 26) > 60)
    #expect(Self.ink(im, x: f.left..<f.right, y: f.bottom + 34..<f.bottom + 52) > 80)
    #expect(Self.ink(im, x: 12..<28, y: f.top..<f.bottom) > 80)
    // As a PNG it decodes to the same pixels.
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plot-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("roc.png").path
    try writePNG(im, to: path)
    #expect(try decodeImage(at: path) == im)
  }

  @Test func fontCoversWhatThePlotsSay() {
    for text in [
      "ROC of P(malignant): all4.safetensors val, 277 images", "Precision-recall", "AUC 0.9987; 1 - x",
    ] {
      for c in text where c != " " {
        #expect(BitmapFont.rows(c) != BitmapFont.rows("?") || c == "?", "no glyph for \(c)")
        #expect(BitmapFont.rows(c).contains { $0 != 0 })
      }
    }
    #expect(BitmapFont.width("AB", scale: 2) == 22)
  }
}
