import Foundation

/// How many colours the terminal can show, from terminfo's `colors`.
public enum ColorDepth: Int, Sendable, CaseIterable, CustomStringConvertible {
  case ansi8 = 8
  case ansi16 = 16
  case xterm256 = 256
  /// 24-bit: terminfo entries such as `xterm-direct`, where a colour number is 0xRRGGBB.
  case direct = 16_777_216

  public init(colorCount: Int) {
    if colorCount > 256 {
      self = .direct
    } else if colorCount >= 256 {
      self = .xterm256
    } else if colorCount >= 16 {
      self = .ansi16
    } else {
      self = .ansi8
    }
  }

  public var description: String { self == .direct ? "24-bit" : "\(rawValue)" }
}

/// A colour as sent to the terminal: its default, a palette index, or 24-bit.
public enum TerminalColour: Hashable, Sendable {
  case terminalDefault
  case palette(Int)
  case direct(RGB)

  /// The number ncurses takes for it at this depth: -1 for the default, the index, or
  /// 0xRRGGBB (never below 8: in direct mode 0–7 still mean the basic palette).
  public var cursesNumber: Int {
    switch self {
    case .terminalDefault: return -1
    case .palette(let i): return i
    case .direct(let c): return max(8, Int(c.r) << 16 | Int(c.g) << 8 | Int(c.b))
    }
  }
}

/// A role's colours as they will actually be drawn, with the RGB values the terminal shows.
public struct DrawnColours: Hashable, Sendable {
  public var foreground: TerminalColour
  public var background: TerminalColour
  /// The foreground as the terminal shows it (bold included: see `sentAttributes`).
  public var foregroundRGB: RGB
  public var backgroundRGB: RGB
  /// Whether bold is sent: not where bold would make the text illegible (at 8 and 16 colours
  /// xterm draws bold text in colours 0-7 in the bright 8-15, so bold black on white is grey,
  /// 4.0:1, and the light theme's bold blue header on cyan was bright blue, 2.4:1).
  public var keepsBold = true

  /// WCAG contrast of what is drawn.
  public var contrast: Double { Contrast.ratio(foregroundRGB, backgroundRGB) }

  /// The attributes the renderer sends for a role drawn with these colours: bold is left out
  /// where it would cost the contrast (`keepsBold`).
  public func sentAttributes(_ attributes: TextAttributes) -> TextAttributes {
    keepsBold ? attributes : attributes.subtracting(.bold)
  }
}

/// Maps a theme's colours to what a terminal of a given depth and background can show, so that
/// every role keeps its contrast (`Contrast.text` for text, `Contrast.graphics` for bars,
/// borders, swatches and class colours) against what is really behind it:
///
/// - "default" colours stay the terminal's own only when the terminal's background is known
///   and of the theme's polarity (a dark theme on a dark terminal); otherwise the theme's
///   `canvas` is painted, so a dark theme on a white terminal (or an unknown one) is drawn on
///   its own dark canvas instead of white;
/// - explicit colours go to the nearest colour the terminal has: itself at 24 bits, the xterm
///   cube and grey ramp at 256 (never 0–15, which users redefine), the basic colours (xterm's
///   values) at 16 and 8;
/// - a foreground whose nearest colour falls short of its contrast against the drawn
///   background becomes the nearest colour that meets it (yellow on light grey in 8 colours
///   becomes red or black, not unreadable); a grey stays a grey (black or white), not a hue;
/// - at 8 and 16 colours, where the foreground had to be replaced on an explicit background,
///   the pair of basic colours nearest to both is taken (the light theme's header #005f87 is
///   blue with white letters, not cyan with blue ones);
/// - at 8 and 16 colours bold text in colours 0-7 is shown by xterm in the bright 8-15
///   (`boldColors`, on by default): contrast is reckoned on that, and bold is dropped where
///   only the plain colour is legible (bold black on white would be grey).
///
/// The suite checks the shipped themes need no such rescue at 24 bits (ThemeContrastTests).
public struct ColourMapping: Sendable, Equatable {
  public var depth: ColorDepth
  public var terminalBackground: TerminalBackground?

  public init(depth: ColorDepth, terminalBackground: TerminalBackground?) {
    self.depth = depth
    self.terminalBackground = terminalBackground
  }

  /// Whether the theme's "default" colours can be left to the terminal.
  public func usesTerminalDefault(_ theme: Theme) -> Bool {
    terminalBackground?.polarity == theme.polarity
  }

  /// The colours of `role` (resolved by the theme) as drawn, meeting `minimumContrast`.
  public func draw(_ c: Theme.RoleColors, theme: Theme, minimumContrast: Double) -> DrawnColours {
    let native = usesTerminalDefault(theme)
    let bold = c.attributes.contains(.bold)
    let background: (TerminalColour, RGB)
    var foregroundSpec = c.foreground
    switch c.background {
    case .terminalDefault where native:
      background = (.terminalDefault, terminalBackground!.rgb)
      if foregroundSpec == .terminalDefault {
        return DrawnColours(
          foreground: .terminalDefault, background: .terminalDefault,
          foregroundRGB: theme.polarity.defaultForeground, backgroundRGB: background.1)
      }
    case .terminalDefault:
      background = nearest(theme.canvas.background)
    default:
      background = nearest(rgb(of: c.background))
    }
    if foregroundSpec == .terminalDefault { foregroundSpec = Color(theme.canvas.foreground) }
    let target = rgb(of: foregroundSpec)
    let choice = legible(target, on: background.1, minimum: minimumContrast, bold: bold)
    var drawn = DrawnColours(
      foreground: choice.colour, background: background.0, foregroundRGB: choice.shown,
      backgroundRGB: background.1, keepsBold: choice.keepsBold)
    if !choice.nearest, c.background != .terminalDefault, depth == .ansi8 || depth == .ansi16 {
      let wanted = rgb(of: c.background)
      var cost = background.1.distance(to: wanted) + choice.shown.distance(to: target)
      for b in palette {
        for f in candidates {
          guard let e = shown(f, on: b.1, minimum: minimumContrast, bold: bold, target: target) else {
            continue
          }
          let d = b.1.distance(to: wanted) + e.rgb.distance(to: target)
          if d < cost {
            cost = d
            drawn = DrawnColours(
              foreground: f.0, background: b.0, foregroundRGB: e.rgb, backgroundRGB: b.1,
              keepsBold: e.keepsBold)
          }
        }
      }
    }
    return drawn
  }

  /// The colours a theme colour stands for (indexed colours by xterm's table).
  func rgb(of c: Color) -> RGB {
    switch c {
    case .terminalDefault: return .black
    case .rgb(let r, let g, let b): return RGB(r, g, b)
    case .indexed(let i): return RGB(Color.rgbOf256(Int(i)))
    }
  }

  /// The colours this depth offers for an explicit colour.
  var palette: [(TerminalColour, RGB)] {
    switch depth {
    case .ansi8, .ansi16:
      return (0..<depth.rawValue).map { (.palette($0), RGB(Color.basicPalette[$0])) }
    case .xterm256:
      return ColourMapping.xtermPalette
    case .direct:
      return ColourMapping.xtermPalette.map { (.direct($0.1), $0.1) }
    }
  }

  static let xtermPalette: [(TerminalColour, RGB)] = (16..<256).map {
    (.palette($0), RGB(Color.rgbOf256($0)))
  }

  func nearest(_ target: RGB) -> (TerminalColour, RGB) {
    if depth == .direct { return (.direct(target), target) }
    if depth == .xterm256 {
      let i = Color.nearest256(target.r, target.g, target.b)
      return (.palette(i), RGB(Color.rgbOf256(i)))
    }
    return palette.min { $0.1.distance(to: target) < $1.1.distance(to: target) }!
  }

  /// Black and white as this depth draws them are always among the candidates.
  var candidates: [(TerminalColour, RGB)] { palette + [nearest(.black), nearest(.white)] }

  /// The legible ways foreground `c` can show on `behind`: bold (when asked for) as xterm draws
  /// it (colours 0-7 brightened to 8-15 at 8 and 16 colours), and plain (bold dropped).
  func forms(_ c: (TerminalColour, RGB), on behind: RGB, minimum: Double, bold: Bool) -> [(
    rgb: RGB, keepsBold: Bool
  )] {
    var out: [(rgb: RGB, keepsBold: Bool)] = []
    var bright = c.1
    if bold, depth == .ansi8 || depth == .ansi16, case .palette(let i) = c.0, i < 8 {
      bright = RGB(Color.basicPalette[i + 8])
    }
    if bold, Contrast.ratio(bright, behind) >= minimum { out.append((bright, true)) }
    if !bold || bright != c.1, Contrast.ratio(c.1, behind) >= minimum { out.append((c.1, false)) }
    return out
  }

  /// The form of `c` nearest to `target` on `behind` (bold first where both are as near).
  func shown(_ c: (TerminalColour, RGB), on behind: RGB, minimum: Double, bold: Bool, target: RGB) -> (
    rgb: RGB, keepsBold: Bool
  )? {
    forms(c, on: behind, minimum: minimum, bold: bold).min {
      $0.rgb.distance(to: target) < $1.rgb.distance(to: target)
    }
  }

  /// A colour with no hue to speak of (black, white, the greys).
  static func isGrey(_ c: RGB) -> Bool { max(c.r, c.g, c.b) - min(c.r, c.g, c.b) <= 24 }

  /// The nearest colour to `target` with at least `minimum` contrast on `behind` (a grey
  /// target keeps to greys where one is legible); the most contrasting colour available when
  /// none reaches it. `nearest`: the target's own nearest colour was legible.
  func legible(_ target: RGB, on behind: RGB, minimum: Double, bold: Bool = false) -> (
    colour: TerminalColour, shown: RGB, keepsBold: Bool, nearest: Bool
  ) {
    let first = nearest(target)
    if let e = shown(first, on: behind, minimum: minimum, bold: bold, target: target) {
      return (first.0, e.rgb, e.keepsBold, true)
    }
    let good = candidates.flatMap { c in
      forms(c, on: behind, minimum: minimum, bold: bold).map { (c.0, $0.rgb, $0.keepsBold) }
    }
    let greys = good.filter { ColourMapping.isGrey($0.1) }
    let pool = ColourMapping.isGrey(target) && !greys.isEmpty ? greys : good
    if let best = pool.min(by: { $0.1.distance(to: target) < $1.1.distance(to: target) }) {
      return (best.0, best.1, best.2, false)
    }
    let most = candidates.max { Contrast.ratio($0.1, behind) < Contrast.ratio($1.1, behind) }!
    return (most.0, most.1, false, false)
  }
}

extension Style {
  /// The contrast this style's foreground needs: graphics (bars, borders, swatches drawn with
  /// an explicit colour, class colours) 3:1, everything else is text, 4.5:1. Text drawn in its
  /// own colour on its own fill (the dashboard heatmap's counts) is text.
  public var minimumContrast: Double {
    if foreground != nil && background == nil { return Contrast.graphics }
    if foreground != nil { return Contrast.text }
    switch role {
    case .border, .barEmpty, .classLabel: return Contrast.graphics
    default: return Contrast.text
    }
  }
}
