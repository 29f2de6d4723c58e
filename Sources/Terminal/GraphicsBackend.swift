import Foundation

/// How images are drawn (DESIGN §6, issue 7 "Image backends").
public enum GraphicsBackend: Hashable, Sendable, CustomStringConvertible {
  /// Sixel bitmaps with at most `colors` palette entries.
  case sixel(colors: Int)
  /// Unicode half blocks, in 24-bit colour or the 256-colour cube.
  case halfBlocks(trueColor: Bool)
  /// Text only: views show lists instead of thumbnails.
  case none

  public var description: String {
    switch self {
    case .sixel(let n): return "sixel (\(n) colours)"
    case .halfBlocks(let t): return t ? "half blocks (24-bit colour)" : "half blocks (256 colours)"
    case .none: return "none"
    }
  }

  public var drawsImages: Bool { self != .none }

  /// Size in pixels of one cell for this backend: sixel pixels are the terminal's, a half
  /// block cell is 1 × 2 pixels.
  public func pixelsPerCell(cellWidth: Int, cellHeight: Int) -> (width: Int, height: Int) {
    switch self {
    case .sixel: return (cellWidth, cellHeight)
    case .halfBlocks, .none: return (1, 2)
    }
  }
}

/// The user's choice: `--graphics auto|sixel|blocks|none` or `BLASTVIEW_GRAPHICS`. (The
/// probe's `GraphicsMode` is the resolved answer `doctor` reports; this adds `auto`.)
public enum GraphicsChoice: String, CaseIterable, Sendable {
  case auto, sixel, blocks, none

  /// The flag's value if given, else `BLASTVIEW_GRAPHICS`, else auto. Throws on an unknown
  /// value, naming where it came from.
  public static func resolve(flag: String?, environment: [String: String]) throws(GraphicsModeError)
    -> GraphicsChoice
  {
    if let flag {
      guard let mode = GraphicsChoice(rawValue: flag.lowercased()) else {
        throw GraphicsModeError(source: "--graphics", value: flag)
      }
      return mode
    }
    if let env = environment["BLASTVIEW_GRAPHICS"], !env.isEmpty {
      guard let mode = GraphicsChoice(rawValue: env.lowercased()) else {
        throw GraphicsModeError(source: "BLASTVIEW_GRAPHICS", value: env)
      }
      return mode
    }
    return .auto
  }
}

public struct GraphicsModeError: Error, CustomStringConvertible, Equatable {
  public let source: String
  public let value: String
  public var description: String {
    "\(source): unknown graphics mode '\(Sanitizer.sanitize(value))' (expected auto, sixel, blocks or none)"
  }
}

/// The facts backend selection depends on, gathered from the capability probe and the
/// environment; a plain value so the rule is testable without a terminal.
public struct GraphicsEnvironment: Sendable, Equatable {
  /// Whether the terminal reported sixel (device attribute 4); nil = unknown.
  public var sixel: Bool?
  /// Colour registers from XTSMGRAPHICS; nil = not reported.
  public var colorRegisters: Int?
  public var inTmux: Bool
  /// tmux's version as `tmux -V` prints it after "tmux " (e.g. "3.3a", "3.4", "next-3.5").
  public var tmuxVersion: String?
  /// `$COLORTERM`.
  public var colorTerm: String?

  public init(
    sixel: Bool?, colorRegisters: Int? = nil, inTmux: Bool = false, tmuxVersion: String? = nil,
    colorTerm: String? = nil
  ) {
    self.sixel = sixel
    self.colorRegisters = colorRegisters
    self.inTmux = inTmux
    self.tmuxVersion = tmuxVersion
    self.colorTerm = colorTerm
  }

  /// Whether the terminal has SGR pixel mouse reports (mode 1016).
  public var mousePixels = false
  /// The terminal's default background (OSC 11, else `$COLORFGBG`); nil = unknown.
  public var background: TerminalBackground?
  /// Cell size in pixels when known.
  public var cellWidth: Int?
  public var cellHeight: Int?

  public var cellSize: (width: Int, height: Int)? {
    guard let w = cellWidth, let h = cellHeight, w > 0, h > 0 else { return nil }
    return (w, h)
  }

  /// The facts from a capability probe; the cell size is the measured one or 10 × 20.
  public init(capabilities c: TerminalCapabilities) {
    self.init(
      sixel: c.sixel, colorRegisters: c.colorRegisters, inTmux: c.inTmux, tmuxVersion: c.tmuxVersion,
      colorTerm: c.colorTerm)
    cellWidth = c.effectiveCellSize.width
    cellHeight = c.effectiveCellSize.height
    mousePixels = c.mousePixels ?? false
  }

  /// Probes the terminal and returns the facts for this process. The budget is 200 ms, or
  /// `BLASTVIEW_PROBE_TIMEOUT_MS` (for slow links, where a terminal's answer takes longer).
  public static func detect(environment: [String: String] = ProcessInfo.processInfo.environment)
    -> GraphicsEnvironment
  {
    let budget = environment["BLASTVIEW_PROBE_TIMEOUT_MS"].flatMap { Int($0) }.map { max(10, min(5000, $0)) }
    let capabilities = TerminalProbe.run(timeoutMilliseconds: budget ?? 200)
    var e = GraphicsEnvironment(capabilities: capabilities)
    e.background = TerminalBackground.resolve(osc11: capabilities.backgroundColour, environment: environment)
    return e
  }

  /// True when COLORTERM announces 24-bit colour.
  public var trueColor: Bool {
    guard let c = colorTerm?.lowercased() else { return false }
    return c == "truecolor" || c == "24bit"
  }

  /// tmux below 3.4 answers the attributes query itself and drops sixel (DESIGN §8).
  public var tmuxBlocksSixel: Bool {
    guard inTmux else { return false }
    guard let v = tmuxVersion.flatMap(GraphicsMode.tmuxVersionNumber) else { return true }
    return v < (3, 4)
  }

  /// The palette size to encode sixel with: the default, capped by the registers reported.
  public var sixelColors: Int {
    guard let r = colorRegisters, r >= 2 else { return SixelEncoder.defaultColors }
    return min(SixelEncoder.defaultColors, r)
  }
}

extension GraphicsBackend {
  /// The backend for `mode`: an explicit choice is obeyed; auto picks sixel when the
  /// terminal reported attribute 4 and is not inside tmux below 3.4, else half blocks.
  public static func select(_ mode: GraphicsChoice, environment e: GraphicsEnvironment) -> GraphicsBackend {
    switch mode {
    case .none: return .none
    case .blocks: return .halfBlocks(trueColor: e.trueColor)
    case .sixel: return .sixel(colors: e.sixelColors)
    case .auto:
      if e.sixel == true && !e.tmuxBlocksSixel { return .sixel(colors: e.sixelColors) }
      return .halfBlocks(trueColor: e.trueColor)
    }
  }
}
