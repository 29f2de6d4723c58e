import CNcursesw
import Glibc

/// Draws frames on the real terminal: text through ncurses (which sends only what changed),
/// then images written directly to the terminal by the `ImagePainter` (DESIGN §8's recipe).
///
/// Order per frame: (1) the painter's erase bytes for images that went away, written before
/// the refresh, and the rows they touched marked for a full curses repaint; (2) the frame's
/// cells into `stdscr` and `doupdate`; (3) the images, each between save and restore cursor.
/// Must run on the thread that owns the `TerminalSession`.
public final class CursesRenderer {
  public private(set) var theme: Theme
  public let painter: ImagePainter
  private let outputFD: Int32
  private var pairs: [PairKey: Int32] = [:]
  private var nextPair: Int32 = 1
  /// Role colours → what is drawn, worked out once per theme (`ColourMapping`).
  private var drawn: [DrawnKey: (PairKey, TextAttributes)] = [:]
  public let mapping: ColourMapping
  private var needsClear = true
  private let colorCount: Int
  private let maxPairs: Int

  private struct PairKey: Hashable {
    var foreground: Int
    var background: Int
  }

  private struct DrawnKey: Hashable {
    var colours: Theme.RoleColors
    var minimum: Double
  }

  /// Bytes written directly for images so far (text bytes are curses' business).
  public private(set) var imageBytesWritten = 0

  /// `terminalBackground`: the terminal's own background when known (see `ColourMapping`).
  init(theme: Theme, painter: ImagePainter, outputFD: Int32, terminalBackground: TerminalBackground?) {
    self.theme = theme
    self.painter = painter
    self.outputFD = outputFD
    colorCount = Int(bv_colors())
    maxPairs = Int(min(bv_color_pairs(), 32767))
    mapping = ColourMapping(depth: ColorDepth(colorCount: colorCount), terminalBackground: terminalBackground)
  }

  /// Switches theme: every colour pair is redefined, so the screen is repainted.
  public func setTheme(_ theme: Theme) {
    self.theme = theme
    pairs.removeAll()
    drawn.removeAll()
    nextPair = 1
    invalidate()
  }

  /// The next frame repaints the whole screen (after a resize, or a suspected mess).
  public func invalidate() { needsClear = true }

  public func render(_ frame: Frame) {
    let window = bv_stdscr()
    if needsClear {
      wclear(window)
      painter.screenWasCleared()
      needsClear = false
    }
    let screenRows = Int(bv_getmaxy(window))
    let screenColumns = Int(bv_getmaxx(window))
    let paint = painter.paint(frame, screenRows: screenRows)
    if !paint.eraseBytes.isEmpty { writeAll(paint.eraseBytes) }

    werase(window)
    let rows = min(frame.rows, screenRows)
    let columns = min(frame.columns, screenColumns)
    var cc = cchar_t()
    var wide: [wchar_t] = [0, 0, 0, 0, 0, 0]
    for row in 0..<rows {
      for col in 0..<columns {
        let cell = frame[row, col]
        if cell.isContinuation { continue }
        // Curses cannot draw into the bottom-right cell without scrolling on some terminals.
        if row == screenRows - 1 && col + Int(cell.width) >= screenColumns { continue }
        let colours = theme.resolve(cell.style)
        let (pair, sent) = colourPair(colours, minimum: cell.style.minimumContrast)
        var n = 0
        for s in cell.character.unicodeScalars where n < 5 {
          wide[n] = wchar_t(bitPattern: s.value)
          n += 1
        }
        wide[n] = 0
        _ = bv_setcchar(&cc, wide, attributes(sent), pair)
        _ = mvwadd_wch(window, Int32(row), Int32(col), &cc)
      }
    }
    for row in paint.erasedRows where row < screenRows { wredrawln(window, Int32(row), 1) }
    if let cursor = frame.cursor, cursor.row < screenRows, cursor.column < screenColumns {
      curs_set(1)
      wmove(window, Int32(cursor.row), Int32(cursor.column))
    } else {
      curs_set(0)
    }
    wnoutrefresh(window)
    doupdate()
    if !paint.drawBytes.isEmpty { writeAll(paint.drawBytes) }
    imageBytesWritten += paint.eraseBytes.count + paint.drawBytes.count
  }

  private func attributes(_ a: TextAttributes) -> attr_t {
    var out = bv_a_normal()
    if a.contains(.bold) { out |= bv_a_bold() }
    if a.contains(.dim) { out |= bv_a_dim() }
    if a.contains(.underline) { out |= bv_a_underline() }
    if a.contains(.reverse) { out |= bv_a_reverse() }
    return out
  }

  /// The colour pair for a role's colours as this terminal draws them, defined on first use,
  /// and the attributes to send with it (`DrawnColours.sentAttributes`).
  private func colourPair(_ c: Theme.RoleColors, minimum: Double) -> (Int32, TextAttributes) {
    guard colorCount > 0 else { return (0, c.attributes) }
    let drawnKey = DrawnKey(colours: c, minimum: minimum)
    let key: PairKey
    let sent: TextAttributes
    if let k = drawn[drawnKey] {
      (key, sent) = k
    } else {
      let d = mapping.draw(c, theme: theme, minimumContrast: minimum)
      key = PairKey(foreground: d.foreground.cursesNumber, background: d.background.cursesNumber)
      sent = d.sentAttributes(c.attributes)
      drawn[drawnKey] = (key, sent)
    }
    return (pairNumber(key), sent)
  }

  private func pairNumber(_ key: PairKey) -> Int32 {
    if key.foreground == -1 && key.background == -1 { return 0 }
    if let p = pairs[key] { return p }
    guard Int(nextPair) < maxPairs else { return 0 }
    let p = nextPair
    nextPair += 1
    _ = bv_init_pair(p, Int32(key.foreground), Int32(key.background))
    pairs[key] = p
    return p
  }

  private func writeAll(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { raw in
      var offset = 0
      while offset < raw.count {
        let n = write(outputFD, raw.baseAddress! + offset, raw.count - offset)
        if n < 0 {
          if errno == EINTR || errno == EAGAIN { continue }
          return
        }
        offset += n
      }
    }
  }
}

extension Color {
  /// xterm's default values of the 16 basic colours.
  static let basicPalette: [(Int, Int, Int)] = [
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
    (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255),
    (255, 0, 255), (0, 255, 255), (255, 255, 255),
  ]

  /// The nearest of the first `count` basic colours (8 or 16), for terminals without 256.
  public static func nearestBasic(_ c: Color, count: Int) -> Int {
    let rgb: (Int, Int, Int)
    switch c {
    case .terminalDefault: return -1
    case .rgb(let r, let g, let b): rgb = (Int(r), Int(g), Int(b))
    case .indexed(let i):
      if Int(i) < count { return Int(i) }
      rgb = Color.rgbOf256(Int(i))
    }
    var best = 0
    var bestDistance = Int.max
    for (i, p) in basicPalette.prefix(count).enumerated() {
      let d = (p.0 - rgb.0) * (p.0 - rgb.0) + (p.1 - rgb.1) * (p.1 - rgb.1) + (p.2 - rgb.2) * (p.2 - rgb.2)
      if d < bestDistance {
        bestDistance = d
        best = i
      }
    }
    return best
  }

  /// The RGB value xterm gives indexed colour `i`.
  public static func rgbOf256(_ i: Int) -> (Int, Int, Int) {
    if i < 16 { return basicPalette[i] }
    if i >= 232 {
      let v = 8 + 10 * (i - 232)
      return (v, v, v)
    }
    let n = i - 16
    return (cubeLevels[n / 36], cubeLevels[(n / 6) % 6], cubeLevels[n % 6])
  }
}
