import Foundation

/// A terminal colour: the terminal's own default, one of the 256 indexed colours, or 24-bit.
public enum Color: Hashable, Sendable {
  case terminalDefault
  case indexed(UInt8)
  case rgb(UInt8, UInt8, UInt8)

  /// The nearest of the 256 indexed colours, for terminals (and ncurses colour pairs) that
  /// have no 24-bit colour. Compares the 6×6×6 cube and the 24-step grey ramp, as xterm's
  /// 256-colour table defines them, by squared RGB distance.
  public var indexed256: Int {
    switch self {
    case .terminalDefault: return -1
    case .indexed(let i): return Int(i)
    case .rgb(let r, let g, let b): return Color.nearest256(r, g, b)
    }
  }

  /// The levels of xterm's colour cube: 0, 95, 135, 175, 215, 255.
  static let cubeLevels: [Int] = [0, 95, 135, 175, 215, 255]

  static func cubeIndex(_ v: Int) -> Int {
    // Thresholds halfway between adjacent levels.
    if v < 48 { return 0 }
    if v < 115 { return 1 }
    return min(5, (v - 35) / 40)
  }

  /// Nearest xterm-256 colour index (16...255) to an RGB value.
  public static func nearest256(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int {
    let (ri, gi, bi) = (cubeIndex(Int(r)), cubeIndex(Int(g)), cubeIndex(Int(b)))
    let cube = 16 + 36 * ri + 6 * gi + bi
    let (cr, cg, cb) = (cubeLevels[ri], cubeLevels[gi], cubeLevels[bi])
    let average = (Int(r) + Int(g) + Int(b)) / 3
    let greyIndex = min(23, max(0, (average - 3) / 10))
    let grey = 8 + 10 * greyIndex
    func distance(_ x: Int, _ y: Int, _ z: Int) -> Int {
      let dr = Int(r) - x
      let dg = Int(g) - y
      let db = Int(b) - z
      return dr * dr + dg * dg + db * db
    }
    return distance(grey, grey, grey) < distance(cr, cg, cb) ? 232 + greyIndex : cube
  }

  public init(_ c: RGB) { self = .rgb(c.r, c.g, c.b) }

  /// Parses `#rrggbb`, `default`, or an index 0–255 written as `ansi:N`.
  public init?(parsing text: String) {
    let t = text.trimmingCharacters(in: .whitespaces).lowercased()
    if t == "default" {
      self = .terminalDefault
    } else if t.hasPrefix("ansi:"), let n = UInt8(t.dropFirst(5)) {
      self = .indexed(n)
    } else if t.hasPrefix("#"), t.count == 7, let v = UInt32(t.dropFirst(), radix: 16) {
      self = .rgb(UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF))
    } else {
      return nil
    }
  }
}

/// What a piece of text means on screen; a `Theme` turns it into colours. Views speak in
/// roles so that every theme (and the colour-blind-safe one above all) applies everywhere.
public enum Role: Hashable, Sendable {
  case text
  case dim
  case title
  case header
  case border
  case selection
  case cursor
  case status
  case statusError
  case statusOK
  case warning
  case accent
  case flag
  case barEmpty
  /// The colour of class number `n` of the label schema (0-based, in schema order).
  case classLabel(Int)
}

/// Text attributes that every terminal we target supports.
public struct TextAttributes: OptionSet, Hashable, Sendable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }
  public static let bold = TextAttributes(rawValue: 1)
  public static let dim = TextAttributes(rawValue: 2)
  public static let underline = TextAttributes(rawValue: 4)
  public static let reverse = TextAttributes(rawValue: 8)
}

/// How a cell is drawn: a role from the theme, plus attributes; `foreground`/`background`,
/// when set, override the role's colours (for colour swatches and previews).
public struct Style: Hashable, Sendable {
  public var role: Role
  public var attributes: TextAttributes
  public var foreground: Color?
  public var background: Color?

  public init(
    _ role: Role = .text, _ attributes: TextAttributes = [], foreground: Color? = nil,
    background: Color? = nil
  ) {
    self.role = role
    self.attributes = attributes
    self.foreground = foreground
    self.background = background
  }

  public static let plain = Style()
}
