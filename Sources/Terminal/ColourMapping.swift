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
  public var foregroundRGB: RGB
  public var backgroundRGB: RGB

  /// WCAG contrast of what is drawn.
  public var contrast: Double { Contrast.ratio(foregroundRGB, backgroundRGB) }
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
///   becomes red or black, not unreadable).
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
    let foreground = legible(rgb(of: foregroundSpec), on: background.1, minimum: minimumContrast)
    return DrawnColours(
      foreground: foreground.0, background: background.0, foregroundRGB: foreground.1,
      backgroundRGB: background.1)
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

  /// The nearest colour to `target` with at least `minimum` contrast on `behind`; the most
  /// contrasting colour available when none reaches it.
  func legible(_ target: RGB, on behind: RGB, minimum: Double) -> (TerminalColour, RGB) {
    let first = nearest(target)
    if Contrast.ratio(first.1, behind) >= minimum { return first }
    // Black and white as this depth draws them are always among the candidates.
    let candidates = palette + [nearest(.black), nearest(.white)]
    let good = candidates.filter { Contrast.ratio($0.1, behind) >= minimum }
    if let best = good.min(by: { $0.1.distance(to: target) < $1.1.distance(to: target) }) { return best }
    return candidates.max { Contrast.ratio($0.1, behind) < Contrast.ratio($1.1, behind) }!
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
