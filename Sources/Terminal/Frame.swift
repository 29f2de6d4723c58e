/// A rectangle of terminal cells; rows and columns are 0-based from the top-left.
public struct CellRect: Hashable, Sendable, CustomStringConvertible {
  public var row: Int
  public var column: Int
  public var rows: Int
  public var columns: Int

  public init(row: Int, column: Int, rows: Int, columns: Int) {
    self.row = row
    self.column = column
    self.rows = rows
    self.columns = columns
  }

  public var isEmpty: Bool { rows <= 0 || columns <= 0 }
  public var bottom: Int { row + rows }
  public var right: Int { column + columns }

  public func contains(row r: Int, column c: Int) -> Bool {
    r >= row && r < bottom && c >= column && c < right
  }

  public func intersects(_ other: CellRect) -> Bool {
    !isEmpty && !other.isEmpty && row < other.bottom && other.row < bottom
      && column < other.right && other.column < right
  }

  /// The part of this rectangle inside `other` (possibly empty).
  public func clipped(to other: CellRect) -> CellRect {
    let r0 = max(row, other.row)
    let c0 = max(column, other.column)
    let r1 = min(bottom, other.bottom)
    let c1 = min(right, other.right)
    return CellRect(row: r0, column: c0, rows: max(0, r1 - r0), columns: max(0, c1 - c0))
  }

  public var description: String { "\(columns)x\(rows)@\(row),\(column)" }
}

/// A cell position, 0-based.
public struct CellPosition: Hashable, Sendable {
  public var row: Int
  public var column: Int
  public init(row: Int, column: Int) {
    self.row = row
    self.column = column
  }
}

/// One cell of a `Frame`. A wide character occupies its cell (`width` 2) and the next one,
/// which holds a continuation (`width` 0, character ignored).
public struct Cell: Hashable, Sendable {
  public var character: Character
  public var style: Style
  public var width: UInt8

  public init(_ character: Character = " ", style: Style = .plain, width: UInt8 = 1) {
    self.character = character
    self.style = style
    self.width = width
  }

  public var isContinuation: Bool { width == 0 }
  public static let blank = Cell()
}

/// What a view produces and a renderer draws: a grid of styled cells plus image placements
/// (DESIGN §2). Pure data, so tests assert on it directly (`text(row:)`, `contains`, `find`,
/// `images`) and renderers can diff two frames.
///
/// Text written with `put` must already be sanitised (`Sanitizer`); as a second line of
/// defence, `put` replaces any control character that slips through with U+FFFD, so a frame
/// can never carry an escape sequence to the terminal.
public struct Frame: Equatable, Sendable {
  public let rows: Int
  public let columns: Int
  public private(set) var cells: [Cell]
  /// Images, drawn after the text in this order; their cells should be left blank.
  public var images: [ImagePlacement] = []
  /// Where the terminal cursor is shown, or nil to hide it.
  public var cursor: CellPosition?
  /// Every text that did not fit where it was put and was cut (its whole text): the layout
  /// tests assert that at 80 × 24 and 200 × 50 nothing but a file name is (issue 18, item 10).
  public private(set) var cut: [String] = []

  public init(rows: Int, columns: Int, background: Style = .plain) {
    self.rows = max(0, rows)
    self.columns = max(0, columns)
    cells = [Cell](repeating: Cell(" ", style: background), count: self.rows * self.columns)
  }

  public var bounds: CellRect { CellRect(row: 0, column: 0, rows: rows, columns: columns) }

  public subscript(row: Int, column: Int) -> Cell {
    get { cells[row * columns + column] }
    set { setCell(row: row, column: column, newValue) }
  }

  /// Writes `text` from (row, column) rightwards, clipped at `maxWidth` columns (default: the
  /// frame's edge); wide characters that would straddle the limit are not drawn.
  /// Returns the number of columns written.
  @discardableResult
  public mutating func put(
    _ text: String, row: Int, column: Int, style: Style = .plain, maxWidth: Int? = nil
  ) -> Int {
    guard row >= 0, row < rows, column < columns else { return 0 }
    let limit = min(columns, maxWidth.map { column + $0 } ?? columns)
    var c = column
    for i in text.indices {
      let ch = text[i]
      var character = ch
      var w = TextWidth.of(ch)
      // The one sanitiser's policy, per character: controls, bidi overrides and invisible
      // format characters never reach a cell, whichever view forgot to filter its text.
      if ch.unicodeScalars.contains(where: { Sanitizer.needsFiltering($0) })
        && Sanitizer.sanitize(String(ch)) != String(ch)
      {
        character = Sanitizer.marker
        w = 1
      }
      if w == 0 { continue }
      if c + w > limit {
        if !text[i...].allSatisfy({ $0 == " " }) { cut.append(text) }
        break
      }
      if c >= 0 {
        setCell(row: row, column: c, Cell(character, style: style, width: UInt8(w)))
        if w == 2 { setCell(row: row, column: c + 1, Cell(" ", style: style, width: 0)) }
      }
      c += w
    }
    return c - column
  }

  /// Writes `text` cut with an ellipsis and padded with spaces to exactly `width` columns.
  public mutating func put(
    _ text: String, row: Int, column: Int, style: Style = .plain, width: Int
  ) {
    if TextWidth.of(text) > width, row >= 0, row < rows, column < columns { cut.append(text) }
    put(TextWidth.padded(text, to: width), row: row, column: column, style: style, maxWidth: width)
  }

  /// Fills `rect` (clipped to the frame) with `character` in `style`.
  public mutating func fill(_ rect: CellRect, with character: Character = " ", style: Style = .plain) {
    let r = rect.clipped(to: bounds)
    guard !r.isEmpty else { return }
    for y in r.row..<r.bottom {
      for x in r.column..<r.right { setCell(row: y, column: x, Cell(character, style: style)) }
    }
  }

  /// Sets only the style of the cells in `rect`, keeping their characters (for highlighting
  /// a selected row or tile).
  public mutating func restyle(_ rect: CellRect, style: Style) {
    let r = rect.clipped(to: bounds)
    guard !r.isEmpty else { return }
    for y in r.row..<r.bottom {
      for x in r.column..<r.right { cells[y * columns + x].style = style }
    }
  }

  /// Draws a single-line box around `rect`'s edge, with an optional title in its top edge.
  public mutating func box(_ rect: CellRect, style: Style = Style(.border), title: String? = nil) {
    guard rect.rows >= 2, rect.columns >= 2 else { return }
    let top = rect.row
    let bottom = rect.bottom - 1
    let left = rect.column
    let right = rect.right - 1
    for x in (left + 1)..<right {
      put("─", row: top, column: x, style: style)
      put("─", row: bottom, column: x, style: style)
    }
    for y in (top + 1)..<bottom {
      put("│", row: y, column: left, style: style)
      put("│", row: y, column: right, style: style)
    }
    put("┌", row: top, column: left, style: style)
    put("┐", row: top, column: right, style: style)
    put("└", row: bottom, column: left, style: style)
    put("┘", row: bottom, column: right, style: style)
    if let title, rect.columns > 4 {
      put(" " + title + " ", row: top, column: left + 1, style: style, maxWidth: rect.columns - 2)
    }
  }

  /// Adds an image placement, clipped to the frame (a placement entirely outside is dropped).
  public mutating func place(_ image: ImagePlacement) {
    let clipped = image.rect.clipped(to: bounds)
    guard !clipped.isEmpty, clipped == image.rect else {
      if !clipped.isEmpty {
        var copy = image
        copy.rect = clipped
        images.append(copy)
      }
      return
    }
    images.append(image)
  }

  // MARK: Reading, for tests and the headless renderer

  /// The text of `row`, continuation cells skipped, trailing spaces removed.
  public func text(row: Int) -> String {
    var s = ""
    for x in 0..<columns {
      let cell = cells[row * columns + x]
      if !cell.isContinuation { s.append(cell.character) }
    }
    while s.last == " " { s.removeLast() }
    return s
  }

  /// Every row's text (see `text(row:)`).
  public var lines: [String] { (0..<rows).map { text(row: $0) } }

  /// The whole frame's text, rows joined by newlines.
  public var text: String { lines.joined(separator: "\n") }

  /// True if `needle` appears within one row.
  public func contains(_ needle: String) -> Bool { find(needle) != nil }

  /// The cell where `needle` first starts (rows top to bottom), or nil.
  public func find(_ needle: String) -> CellPosition? {
    for y in 0..<rows {
      let line = text(row: y)
      guard let range = line.range(of: needle) else { continue }
      // Convert the character offset to a column, counting widths.
      let column = TextWidth.of(String(line[line.startIndex..<range.lowerBound]))
      return CellPosition(row: y, column: column)
    }
    return nil
  }

  /// The style of the cell where `needle` first starts, or nil if it is absent.
  public func style(of needle: String) -> Style? {
    find(needle).map { self[$0.row, $0.column].style }
  }

  /// The placements whose rectangle contains the cell.
  public func images(at position: CellPosition) -> [ImagePlacement] {
    images.filter { $0.rect.contains(row: position.row, column: position.column) }
  }

  // MARK: Cells

  /// Sets one cell, keeping wide characters whole: overwriting either half of a wide
  /// character blanks the other half.
  private mutating func setCell(row: Int, column: Int, _ cell: Cell) {
    guard row >= 0, row < rows, column >= 0, column < columns else { return }
    let i = row * columns + column
    let old = cells[i]
    if old.isContinuation, column > 0, cell.width != 0 {
      cells[i - 1] = Cell(" ", style: cells[i - 1].style)
    }
    if old.width == 2, column + 1 < columns, cell.width != 2 {
      cells[i + 1] = Cell(" ", style: cells[i + 1].style)
    }
    cells[i] = cell
  }
}
