import Foundation
import Testing

@testable import Review
@testable import Terminal

/// Issue 18, item 9: the dashboard heatmap's zero cells (dimmed) and its cyan-under-white
/// digits were hard to read. Every count of a heatmap from 1 to 60, and zero, is drawn with
/// WCAG AA text contrast (4.5:1) against its own cell, in every built-in theme, at every colour
/// depth, on a white, a black and an unknown terminal, as the renderer draws it.
@Suite struct HeatmapContrastTests {
  @Test func everyCountAndZeroReadsAt4Point5InEveryThemeAndDepth() throws {
    var checked = 0
    var worst = Double.infinity
    let backgrounds: [TerminalBackground?] = [
      TerminalBackground(rgb: .white, source: "white terminal"),
      TerminalBackground(rgb: .black, source: "black terminal"), nil,
    ]
    for (name, text) in BuiltinThemes.files.sorted(by: { $0.key < $1.key }) {
      let theme = try Theme.parse(Data(text.utf8), source: "built-in \(name)")
      for depth in ColorDepth.allCases {
        for background in backgrounds {
          let mapping = ColourMapping(depth: depth, terminalBackground: background)
          for maxCount in [1, 7, 60] {
            for n in 0...maxCount {
              let style = View.heatmapCellStyle(n, maxCount: maxCount, diagonal: n % 2 == 0)
              #expect(style.minimumContrast == Contrast.text, "a count is text")
              let drawn = mapping.draw(
                theme.resolve(style), theme: theme, minimumContrast: style.minimumContrast)
              worst = min(worst, drawn.contrast)
              #expect(
                drawn.contrast >= Contrast.text,
                "\(name) \(n)/\(maxCount) at \(depth) on \(background?.source ?? "unknown"): \(drawn.foregroundRGB) on \(drawn.backgroundRGB) = \(drawn.contrast)"
              )
              checked += 1
            }
          }
        }
      }
    }
    #expect(checked > 1000)
    #expect(worst >= Contrast.text)
  }

  /// The digits at 24 bits are the colour picked, not a rescue: black or white, whichever
  /// contrasts more with the shade, checked against an independent computation of the ratio.
  @Test func digitsAreBlackOrWhiteWhicheverContrastsMore() {
    for n in 1...20 {
      let style = View.heatmapCellStyle(n, maxCount: 20, diagonal: false)
      guard case .rgb(let r, let g, let b)? = style.background, case .rgb(let fr, _, _)? = style.foreground
      else {
        Issue.record("count \(n) has no fill")
        continue
      }
      // WCAG relative luminance, computed here on its own.
      func lum(_ v: UInt8) -> Double {
        let c = Double(v) / 255
        return c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
      }
      let l = 0.2126 * lum(r) + 0.7152 * lum(g) + 0.0722 * lum(b)
      let onBlack = (l + 0.05) / 0.05
      let onWhite = 1.05 / (l + 0.05)
      #expect(fr == (onBlack >= onWhite ? 0 : 255), "count \(n)")
      #expect(max(onBlack, onWhite) >= 4.5, "count \(n): \(max(onBlack, onWhite))")
    }
  }
}
