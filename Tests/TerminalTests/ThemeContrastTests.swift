import Foundation
import Testing

@testable import Terminal

/// Every role of every theme (the files in Themes/ and the built-in copies) at every colour
/// depth, on a white and a black terminal and on one whose background is unknown, keeps WCAG AA
/// contrast against what is drawn behind it: 4.5:1 for text, 3:1 for borders, bars, class
/// colours and overlay swatches (issue 18, item 1).
@Suite struct ThemeContrastTests {
  static func themes() throws -> [Theme] {
    var out: [Theme] = []
    let files = ThemeLibrary(directories: [repositoryThemes], useBuiltins: false)
    for name in files.available() { out.append(try files.load(name)) }
    for (name, text) in BuiltinThemes.files.sorted(by: { $0.key < $1.key }) {
      out.append(try Theme.parse(Data(text.utf8), source: "built-in \(name)"))
    }
    return out
  }

  static let backgrounds: [TerminalBackground?] = [
    TerminalBackground(rgb: .white, source: "white terminal"),
    TerminalBackground(rgb: .black, source: "black terminal"),
    nil,
  ]

  /// Every style views draw with: the roles, each class colour, and an overlay swatch.
  static func styles(_ theme: Theme) -> [(String, Style)] {
    let roles: [Role] = [
      .text, .dim, .title, .header, .border, .selection, .cursor, .status, .statusError, .statusOK, .warning,
      .accent, .flag, .barEmpty,
    ]
    var out = roles.map { ("\($0)", Style($0)) }
    for i in theme.classColors.indices { out.append(("class \(i)", Style(.classLabel(i)))) }
    for name in Theme.overlayNames where name != "brush" {
      let (r, g, b) = theme.overlayRGB(name)
      out.append(("overlay \(name)", Style(.text, [.bold], foreground: .rgb(r, g, b))))
    }
    return out
  }

  /// xterm's values of its 16 basic colours, written out here.
  static let xtermBasic: [(Int, Int, Int)] = [
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
    (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255),
    (255, 0, 255), (0, 255, 255), (255, 255, 255),
  ]

  /// The foreground and background xterm shows for what the renderer sends: the terminal's own
  /// colours for "default", its basic colours, the 256-colour table, 24-bit as is; and, at 8 and
  /// 16 colours, bold text in colours 0-7 in their bright versions 8-15 (xterm's `boldColors`,
  /// on by default). That last rule is why the light theme's header was unreadable: bold blue
  /// on cyan is bright blue (92,92,255) on cyan, 2.4:1, not blue's 4.7:1.
  static func shown(
    _ d: DrawnColours, sentAttributes: TextAttributes, depth: ColorDepth, background: TerminalBackground?,
    theme: Theme
  ) -> (RGB, RGB) {
    func rgb(_ c: TerminalColour, foreground: Bool) -> RGB {
      switch c {
      case .terminalDefault:
        let bg = background?.rgb ?? .black
        return foreground ? (Contrast.relativeLuminance(bg) > 0.5 ? .black : .white) : bg
      case .direct(let x): return x
      case .palette(var i):
        if foreground, sentAttributes.contains(.bold), depth == .ansi8 || depth == .ansi16, i < 8 { i += 8 }
        if i < 16 { return RGB(xtermBasic[i]) }
        return RGB(Color.rgbOf256(i))
      }
    }
    return (rgb(d.foreground, foreground: true), rgb(d.background, foreground: false))
  }

  /// The complaint, at 8 and 16 colours on a white terminal: the light theme's header.
  @Test func lightHeaderIsLegibleAsXtermShowsBold() throws {
    let light = try ThemeLibrary(directories: [repositoryThemes], useBuiltins: false).load("light")
    for depth in [ColorDepth.ansi8, .ansi16] {
      let white = TerminalBackground(rgb: .white, source: "t")
      let colours = light.resolve(Style(.header))
      let drawn = ColourMapping(depth: depth, terminalBackground: white).draw(
        colours, theme: light, minimumContrast: Contrast.text)
      let (fg, bg) = Self.shown(
        drawn, sentAttributes: drawn.sentAttributes(colours.attributes), depth: depth, background: white,
        theme: light)
      #expect(Contrast.ratio(fg, bg) >= Contrast.text, "\(depth): \(fg) on \(bg)")
      // The header stays a dark bar with light letters (blue, not cyan, is the basic colour
      // that keeps it so).
      #expect(Contrast.relativeLuminance(bg) < Contrast.relativeLuminance(fg), "\(depth): \(fg) on \(bg)")
    }
  }

  @Test func everyRoleAtEveryDepthOnEveryBackground() throws {
    var checked = 0
    for theme in try Self.themes() {
      for depth in ColorDepth.allCases {
        for background in Self.backgrounds {
          let mapping = ColourMapping(depth: depth, terminalBackground: background)
          for (name, style) in Self.styles(theme) {
            let colours = theme.resolve(style)
            let drawn = mapping.draw(colours, theme: theme, minimumContrast: style.minimumContrast)
            // What xterm shows for the colour numbers and attributes sent, worked out here (the
            // mapping's own RGB figures left bold text out: bold black showed grey, 4.0:1).
            let (fg, bg) = Self.shown(
              drawn, sentAttributes: drawn.sentAttributes(colours.attributes), depth: depth,
              background: background, theme: theme)
            let ratio = Contrast.ratio(fg, bg)
            #expect(
              ratio >= style.minimumContrast,
              "\(theme.name) \(name) at \(depth) on \(background?.source ?? "unknown"): \(fg) on \(bg) = \(ratio)"
            )
            // The default background is kept only where it is known to suit the theme.
            if drawn.background == .terminalDefault {
              #expect(background?.polarity == theme.polarity)
              #expect(drawn.backgroundRGB == background?.rgb)
            }
            checked += 1
          }
        }
      }
    }
    #expect(checked >= 8 * 4 * 3 * 20)
  }

  /// The shipped themes meet the thresholds with their own colours: at 24 bits nothing is
  /// substituted, on their own canvas and on a terminal of their polarity.
  @Test func shippedThemesNeedNoRescueAt24Bits() throws {
    for theme in try Self.themes() {
      for background in [TerminalBackground(rgb: theme.polarity.typicalBackground, source: "own"), nil] {
        let mapping = ColourMapping(depth: .direct, terminalBackground: background)
        for (name, style) in Self.styles(theme) {
          let colours = theme.resolve(style)
          let drawn = mapping.draw(colours, theme: theme, minimumContrast: style.minimumContrast)
          let own: RGB
          switch colours.foreground {
          case .rgb(let r, let g, let b): own = RGB(r, g, b)
          case .indexed(let i): own = RGB(Color.rgbOf256(Int(i)))
          case .terminalDefault:
            own =
              drawn.foreground == .terminalDefault
              ? theme.polarity.defaultForeground : theme.canvas.foreground
          }
          #expect(
            drawn.foregroundRGB == own,
            "\(theme.name) \(name) on \(background?.source ?? "canvas"): \(own) had to become \(drawn.foregroundRGB)"
          )
        }
      }
    }
  }

  /// The complaint: the default (dark) theme in a white 8/16-colour xterm drew white titles and
  /// yellow badges on white. Now its default background is its canvas, and in the light theme
  /// yellow-ish colours become legible ones.
  @Test func darkThemeOnWhiteTerminalIsDrawnOnItsCanvas() throws {
    let dark = try ThemeLibrary(directories: [repositoryThemes], useBuiltins: false).load("dark")
    let white = TerminalBackground(rgb: .white, source: "t")
    for depth in [ColorDepth.ansi8, .ansi16] {
      let mapping = ColourMapping(depth: depth, terminalBackground: white)
      #expect(!mapping.usesTerminalDefault(dark))
      let title = mapping.draw(dark.resolve(Style(.title)), theme: dark, minimumContrast: Contrast.text)
      #expect(title.background == .palette(0))
      #expect(title.contrast >= 4.5)
    }
    // A colour whose nearest basic colour is illegible is replaced by the nearest legible one:
    // the dark theme's sixth class colour #d7d700 is yellow (205,205,0) in 8 colours, 1.5:1 on
    // a white terminal's default background.
    let light = try ThemeLibrary(directories: [repositoryThemes], useBuiltins: false).load("light")
    let eight = ColourMapping(depth: .ansi8, terminalBackground: white)
    #expect(Color.nearestBasic(.rgb(0xd7, 0xd7, 0x00), count: 8) == 3)
    let yellow = eight.draw(
      Theme.RoleColors(foreground: .rgb(0xd7, 0xd7, 0x00), background: .terminalDefault, attributes: []),
      theme: light, minimumContrast: Contrast.graphics)
    #expect(yellow.background == .terminalDefault)
    #expect(yellow.foreground != .palette(3))
    #expect(yellow.contrast >= Contrast.graphics)
    // And the light theme's text on a white terminal stays the terminal's own colours.
    let text = eight.draw(light.resolve(Style(.text)), theme: light, minimumContrast: Contrast.text)
    #expect(text.foreground == .terminalDefault && text.background == .terminalDefault)
  }

  @Test func directColoursAreNumberedRGBAndNeverTheBasicEight() {
    #expect(TerminalColour.direct(RGB(0x12, 0x34, 0x56)).cursesNumber == 0x123456)
    #expect(TerminalColour.direct(.black).cursesNumber == 8)
    #expect(TerminalColour.terminalDefault.cursesNumber == -1)
    #expect(ColorDepth(colorCount: 8) == .ansi8)
    #expect(ColorDepth(colorCount: 16) == .ansi16)
    #expect(ColorDepth(colorCount: 256) == .xterm256)
    #expect(ColorDepth(colorCount: 1 << 24) == .direct)
  }
}
