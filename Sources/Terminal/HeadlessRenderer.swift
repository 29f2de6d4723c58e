/// Renders frames to the bytes a terminal would receive, without a terminal: the same image
/// painter as the ncurses renderer, and a straightforward text diff (changed cells only,
/// SGR only where the style changes). Used by benchmarks (time per frame, bytes per page) and
/// by tests that check what would be written.
public final class HeadlessRenderer {
  public let theme: Theme
  public let painter: ImagePainter
  /// 24-bit SGR colours for text; else the 256-colour palette, as ncurses would use.
  public let trueColor: Bool
  private var previous: Frame?

  /// Bytes written so far, split by kind.
  public private(set) var textBytes = 0
  public private(set) var imageBytes = 0

  public init(theme: Theme, painter: ImagePainter, trueColor: Bool = false) {
    self.theme = theme
    self.painter = painter
    self.trueColor = trueColor
  }

  /// Forgets the screen (as after a resize): the next frame is drawn in full.
  public func invalidate() {
    previous = nil
    painter.screenWasCleared()
  }

  /// The bytes that bring the terminal from the previous frame to `frame`.
  public func render(_ frame: Frame) -> [UInt8] {
    var out: [UInt8] = []
    var full = false
    if let p = previous, p.rows == frame.rows, p.columns == frame.columns {
    } else {
      full = true
      painter.screenWasCleared()
      out += Array("\u{1B}[0m\u{1B}[H\u{1B}[2J".utf8)
    }
    let paint = painter.paint(frame, screenRows: frame.rows)
    out += paint.eraseBytes
    let textStart = out.count
    var current: Theme.RoleColors? = nil
    for row in 0..<frame.rows {
      var first = -1
      var last = -1
      let repaint = full || paint.erasedRows.contains(row)
      for col in 0..<frame.columns {
        if repaint || previous![row, col] != frame[row, col] {
          if first < 0 { first = col }
          last = col
        }
      }
      guard first >= 0 else { continue }
      while first > 0 && frame[row, first].isContinuation { first -= 1 }
      out += Escape.moveTo(row: row, column: first)
      for col in first...last {
        let cell = frame[row, col]
        if cell.isContinuation { continue }
        let colours = theme.resolve(cell.style)
        if colours != current {
          out += sgr(colours)
          current = colours
        }
        out += Array(String(cell.character).utf8)
      }
    }
    out += Escape.resetAttributes
    textBytes += out.count - textStart
    out += paint.drawBytes
    imageBytes += paint.eraseBytes.count + paint.drawBytes.count
    previous = frame
    return out
  }

  private func sgr(_ c: Theme.RoleColors) -> [UInt8] {
    var p = ["0"]
    if c.attributes.contains(.bold) { p.append("1") }
    if c.attributes.contains(.dim) { p.append("2") }
    if c.attributes.contains(.underline) { p.append("4") }
    if c.attributes.contains(.reverse) { p.append("7") }
    p.append(contentsOf: colour(c.foreground, base: 38))
    p.append(contentsOf: colour(c.background, base: 48))
    return Array("\u{1B}[\(p.joined(separator: ";"))m".utf8)
  }

  private func colour(_ c: Color, base: Int) -> [String] {
    switch c {
    case .terminalDefault: return []
    case .indexed(let i): return ["\(base);5;\(i)"]
    case .rgb(let r, let g, let b):
      return trueColor ? ["\(base);2;\(r);\(g);\(b)"] : ["\(base);5;\(Color.nearest256(r, g, b))"]
    }
  }
}
