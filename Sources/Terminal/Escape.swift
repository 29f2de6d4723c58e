/// The few control sequences BlastView writes itself (ECMA-48 / xterm). Everything else
/// goes through ncurses.
public enum Escape {
  /// DECSC: saves cursor position and attributes.
  public static let saveCursor: [UInt8] = [0x1B, 0x37]
  /// DECRC: restores what DECSC saved.
  public static let restoreCursor: [UInt8] = [0x1B, 0x38]
  /// SGR 0.
  public static let resetAttributes: [UInt8] = Array("\u{1B}[0m".utf8)

  /// CUP to a 0-based (row, column).
  public static func moveTo(row: Int, column: Int) -> [UInt8] {
    Array("\u{1B}[\(row + 1);\(column + 1)H".utf8)
  }

  /// ECH: erases `n` characters from the cursor, leaving it in place; also erases sixel
  /// pixels in those cells (DESIGN §8).
  public static func eraseCharacters(_ n: Int) -> [UInt8] { Array("\u{1B}[\(n)X".utf8) }

  /// Mouse reporting on: button events (1000), drag motion (1002), SGR coordinates (1006),
  /// and SGR pixel coordinates (1016) when the terminal has them.
  public static func enableMouse(pixels: Bool) -> [UInt8] {
    Array(("\u{1B}[?1000h\u{1B}[?1002h\u{1B}[?1006h" + (pixels ? "\u{1B}[?1016h" : "")).utf8)
  }

  /// Turns every mouse mode above off again.
  public static let disableMouse: [UInt8] = Array(
    "\u{1B}[?1016l\u{1B}[?1006l\u{1B}[?1002l\u{1B}[?1000l".utf8)
}
