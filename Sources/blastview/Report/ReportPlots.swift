import Agreement
import Foundation

/// The study report's plots, drawn by the project as SVG (text stays text: sharp at any zoom,
/// searchable, and the numbers in a plot are the numbers in the tables beside it). Every plot
/// has a title, labelled axes and its n; colours are chosen for contrast on white (dark text on
/// light cells, white text on dark ones).
enum ReportPlots {
  /// One row of a forest plot: an estimate and, where the statistic has one, its 95% CI.
  struct ForestRow {
    var label: String
    var estimate: Double
    var ci: Interval?
    var n: Int
  }

  private static let font = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""

  /// Coefficients on a common axis from -1 to 1 (or from their lowest CI bound, if lower):
  /// a dot per estimate, a line for its 95% CI, a dashed line at 0 (chance agreement).
  static func forest(_ rows: [ForestRow], title: String) -> String {
    let c = HTMLText.coordinate
    let e = HTMLText.escape
    let labelWidth = 230.0
    let plotWidth = 360.0
    let valueWidth = 190.0
    let rowHeight = 26.0
    let top = 44.0
    let width = labelWidth + plotWidth + valueWidth + 20
    let height = top + rowHeight * Double(max(rows.count, 1)) + 62
    let lowest = rows.map { min($0.estimate, $0.ci?.lower ?? $0.estimate) }.min() ?? 0
    let lo = min(-0.2, (lowest * 5).rounded(.down) / 5)
    let hi = 1.0
    func x(_ v: Double) -> Double { labelWidth + (min(max(v, lo), hi) - lo) / (hi - lo) * plotWidth }
    var s = svgOpen(width: width, height: height, title: title)
    s +=
      "<text x=\"\(c(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\" "
      + "fill=\"#111\">\(e(title))</text>\n"
    let axisY = top + rowHeight * Double(max(rows.count, 1)) + 4
    // Grid and ticks every 0.2.
    var tick = lo
    while tick <= hi + 1e-9 {
      let tx = x(tick)
      s += "<line x1=\"\(c(tx))\" y1=\"\(c(top - 6))\" x2=\"\(c(tx))\" y2=\"\(c(axisY))\" stroke=\"#ddd\"/>\n"
      s +=
        "<text x=\"\(c(tx))\" y=\"\(c(axisY + 16))\" text-anchor=\"middle\" font-size=\"11\" fill=\"#333\">"
        + "\(String(format: "%.1f", tick))</text>\n"
      tick += 0.2
    }
    s +=
      "<line x1=\"\(c(x(0)))\" y1=\"\(c(top - 6))\" x2=\"\(c(x(0)))\" y2=\"\(c(axisY))\" stroke=\"#555\" "
      + "stroke-dasharray=\"4 3\"/>\n"
    s +=
      "<line x1=\"\(c(labelWidth))\" y1=\"\(c(axisY))\" x2=\"\(c(labelWidth + plotWidth))\" y2=\"\(c(axisY))\" "
      + "stroke=\"#333\"/>\n"
    s +=
      "<text x=\"\(c(labelWidth + plotWidth / 2))\" y=\"\(c(axisY + 36))\" text-anchor=\"middle\" "
      + "font-size=\"12\" fill=\"#111\">Coefficient (0 = chance agreement, 1 = perfect; line = 95% CI)</text>\n"
    s +=
      "<text x=\"\(c(labelWidth + plotWidth + 10))\" y=\"\(c(top - 10))\" font-size=\"11\" fill=\"#333\" "
      + "font-weight=\"bold\">estimate (95% CI), n</text>\n"
    s +=
      "<text x=\"10\" y=\"\(c(top - 10))\" font-size=\"11\" fill=\"#333\" font-weight=\"bold\">statistic</text>\n"
    for (i, r) in rows.enumerated() {
      let y = top + rowHeight * Double(i) + rowHeight / 2
      if i % 2 == 0 {
        s +=
          "<rect x=\"4\" y=\"\(c(y - rowHeight / 2))\" width=\"\(c(width - 8))\" height=\"\(c(rowHeight))\" "
          + "fill=\"#f3f5f8\"/>\n"
      }
      s += "<text x=\"10\" y=\"\(c(y + 4))\" font-size=\"12\" fill=\"#111\">\(e(r.label))</text>\n"
      if let ci = r.ci {
        s +=
          "<line x1=\"\(c(x(ci.lower)))\" y1=\"\(c(y))\" x2=\"\(c(x(ci.upper)))\" y2=\"\(c(y))\" "
          + "stroke=\"#1f4e99\" stroke-width=\"2\"/>\n"
        for end in [ci.lower, ci.upper] {
          s +=
            "<line x1=\"\(c(x(end)))\" y1=\"\(c(y - 5))\" x2=\"\(c(x(end)))\" y2=\"\(c(y + 5))\" "
            + "stroke=\"#1f4e99\" stroke-width=\"2\"/>\n"
        }
      }
      s += "<circle cx=\"\(c(x(r.estimate)))\" cy=\"\(c(y))\" r=\"5\" fill=\"#1f4e99\"/>\n"
      let ci = r.ci.map { " (\(HTMLText.fixed($0.lower)) to \(HTMLText.fixed($0.upper)))" } ?? " (no CI)"
      s +=
        "<text x=\"\(c(labelWidth + plotWidth + 10))\" y=\"\(c(y + 4))\" font-size=\"12\" fill=\"#111\">"
        + "\(HTMLText.fixed(r.estimate))\(ci), n \(r.n)</text>\n"
    }
    if rows.isEmpty {
      s +=
        "<text x=\"\(c(labelWidth + 10))\" y=\"\(c(top + 16))\" font-size=\"12\" fill=\"#111\">"
        + "No coefficient is defined for these labels.</text>\n"
    }
    return s + "</svg>\n"
  }

  /// A confusion matrix as a heatmap: cell shade by the share of its row (what fraction of
  /// the row rater's calls of a class the column rater called each class), the count in the
  /// cell, row and column totals at the ends.
  static func heatmap(
    _ m: ConfusionMatrix, categories: [String], rowTitle: String, columnTitle: String, title: String
  ) -> String {
    let c = HTMLText.coordinate
    let e = HTMLText.escape
    let k = m.k
    let cell = 64.0
    let left = 150.0
    let top = 86.0
    let width = left + cell * Double(k) + 90
    let height = top + cell * Double(k) + 70
    var s = svgOpen(width: width, height: height, title: title)
    s +=
      "<text x=\"\(c(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\" "
      + "fill=\"#111\">\(e(title))</text>\n"
    s +=
      "<text x=\"\(c(left + cell * Double(k) / 2))\" y=\"46\" text-anchor=\"middle\" font-size=\"12\" "
      + "fill=\"#111\">\(e(columnTitle)) (columns), n = \(m.n)</text>\n"
    let midY = top + cell * Double(k) / 2
    s +=
      "<text x=\"18\" y=\"\(c(midY))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#111\" "
      + "transform=\"rotate(-90 18 \(c(midY)))\">\(e(rowTitle)) (rows)</text>\n"
    let rows = m.rowTotals
    for j in 0..<k {
      let cx = left + cell * (Double(j) + 0.5)
      s +=
        "<text x=\"\(c(cx))\" y=\"\(c(top - 10))\" text-anchor=\"middle\" font-size=\"11\" fill=\"#111\">"
        + "\(e(categories[j]))</text>\n"
    }
    for i in 0..<k {
      let y = top + cell * Double(i)
      s +=
        "<text x=\"\(c(left - 8))\" y=\"\(c(y + cell / 2 + 4))\" text-anchor=\"end\" font-size=\"11\" "
        + "fill=\"#111\">\(e(categories[i]))</text>\n"
      for j in 0..<k {
        let n = m[i, j]
        let share = rows[i] == 0 ? 0 : Double(n) / Double(rows[i])
        let (fill, ink) = shade(share)
        let x = left + cell * Double(j)
        s +=
          "<rect x=\"\(c(x))\" y=\"\(c(y))\" width=\"\(c(cell))\" height=\"\(c(cell))\" fill=\"\(fill)\" "
          + "stroke=\"\(i == j ? "#111" : "#bbb")\" stroke-width=\"\(i == j ? 2 : 1)\"/>\n"
        s +=
          "<text x=\"\(c(x + cell / 2))\" y=\"\(c(y + cell / 2 + 5))\" text-anchor=\"middle\" font-size=\"14\" "
          + "fill=\"\(ink)\">\(n)</text>\n"
      }
      s +=
        "<text x=\"\(c(left + cell * Double(k) + 10))\" y=\"\(c(y + cell / 2 + 4))\" font-size=\"11\" "
        + "fill=\"#333\">Σ \(rows[i])</text>\n"
    }
    let cols = m.columnTotals
    for j in 0..<k {
      s +=
        "<text x=\"\(c(left + cell * (Double(j) + 0.5)))\" y=\"\(c(top + cell * Double(k) + 18))\" "
        + "text-anchor=\"middle\" font-size=\"11\" fill=\"#333\">Σ \(cols[j])</text>\n"
    }
    s +=
      "<text x=\"\(c(left))\" y=\"\(c(top + cell * Double(k) + 44))\" font-size=\"11\" fill=\"#333\">"
      + "Shade: share of the row; the diagonal (outlined) is agreement.</text>\n"
    return s + "</svg>\n"
  }

  /// White to dark blue by `share` (0...1), and of black and white the text colour with
  /// the higher WCAG contrast against that fill (at least 4.5:1 at every shade).
  static func shade(_ share: Double) -> (fill: String, ink: String) {
    let t = min(max(share, 0), 1)
    let rgb = [255 - t * (255 - 31), 255 - t * (255 - 78), 255 - t * (255 - 153)].map { $0.rounded() }
    let fill = String(format: "#%02x%02x%02x", Int(rgb[0]), Int(rgb[1]), Int(rgb[2]))
    let l = luminance(rgb)
    let onWhite = 1.05 / (l + 0.05)
    let onBlack = (l + 0.05) / 0.05
    return (fill, onWhite > onBlack ? "#ffffff" : "#000000")
  }

  /// WCAG 2 relative luminance of an sRGB colour given as 0...255 channels.
  static func luminance(_ rgb: [Double]) -> Double {
    let lin = rgb.map { c -> Double in
      let s = c / 255
      return s <= 0.04045 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4)
    }
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
  }

  private static func svgOpen(width: Double, height: Double, title: String) -> String {
    let c = HTMLText.coordinate
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(c(width))\" height=\"\(c(height))\" "
      + "viewBox=\"0 0 \(c(width)) \(c(height))\" \(font) role=\"img\">\n"
      + "<title>\(HTMLText.escape(title))</title>\n"
      + "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
  }
}
