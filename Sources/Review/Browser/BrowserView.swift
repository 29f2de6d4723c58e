import CaseStore
import Foundation
import Terminal

/// The browser: a grid of thumbnail tiles with captions (graphics on) or a list of rows.
extension View {
  static func browser(_ s: AppState, _ images: CaseImages, _ f: inout Frame) {
    f.put(filterLine(s), row: 1, column: 0, style: Style(.dim), width: s.columns)
    guard let page = s.page else {
      f.put(" Loading…", row: 3, column: 0, style: Style(.dim))
      return
    }
    if page.rows.isEmpty {
      f.put(" No case matches. Press c to clear the filters.", row: 3, column: 0, style: Style(.dim))
      return
    }
    let grid = s.grid
    if s.graphics {
      for (i, row) in page.rows.enumerated() where i < grid.pageSize {
        tile(s, row, index: i, images, &f)
      }
    } else {
      f.put(
        "  case   file                              predicted        mine        flags", row: grid.top,
        column: 0,
        style: Style(.dim, [.underline]), width: s.columns)
      for (i, row) in page.rows.enumerated() where i < grid.pageSize {
        listRow(s, row, index: i, line: grid.top + 1 + i, &f)
      }
    }
  }

  /// The cell rectangle of tile `index` (image above, two caption lines below).
  public static func tileRect(_ index: Int, in s: AppState) -> CellRect {
    let g = s.grid
    return CellRect(
      row: g.top + (index / g.across) * g.tileRows,
      column: (index % g.across) * g.tileColumns,
      rows: g.tileRows - 1, columns: g.tileColumns - 1)
  }

  /// The tile (or list row) index under a cell, for mouse clicks.
  public static func tileIndex(at p: CellPosition, in s: AppState) -> Int? {
    let g = s.grid
    if s.graphics {
      let r = (p.row - g.top) / g.tileRows
      let c = p.column / g.tileColumns
      guard p.row >= g.top, r < g.down, c < g.across else { return nil }
      return r * g.across + c
    }
    let i = p.row - g.top - 1
    return i >= 0 && i < g.down ? i : nil
  }

  static func tile(_ s: AppState, _ row: CaseRow, index: Int, _ images: CaseImages, _ f: inout Frame) {
    let rect = tileRect(index, in: s)
    let selected = index == s.selection
    let imageRect = CellRect(row: rect.row, column: rect.column, rows: rect.rows - 2, columns: rect.columns)
    f.place(
      ImagePlacement(
        key: "thumb:\(row.id)", rect: imageRect,
        source: images.thumbnail(s.pictures.thumbnails[row.id] ?? nil, width: row.width, height: row.height)))
    let captionRow = rect.row + rect.rows - 2
    let base = selected ? Style(.selection) : Style(.text)
    f.put(String(repeating: " ", count: rect.columns), row: captionRow, column: rect.column, style: base)
    f.put(String(repeating: " ", count: rect.columns), row: captionRow + 1, column: rect.column, style: base)
    var col = rect.column
    col += f.put((selected ? "▶" : " ") + "#\(row.id) ", row: captionRow, column: col, style: base)
    prediction(
      row, s, row: captionRow, column: col, width: rect.column + rect.columns - col, selected: selected, &f)
    // Second line: the badges, my label by name (none: the U badge says so), the file name.
    let flags = flags(row)
    var flagStyle = Style(.flag)
    if selected { flagStyle.attributes.insert(.reverse) }
    col =
      rect.column
      + f.put(" " + flags, row: captionRow + 1, column: rect.column, style: flags.isEmpty ? base : flagStyle)
    if let label = row.myLabel {
      col += f.put(" me:", row: captionRow + 1, column: col, style: base)
      var mine = classStyle(label, s.schema)
      if selected { mine.attributes.insert(.reverse) }
      let room = rect.column + rect.columns - col
      col += f.put(
        Sanitizer.sanitize(ClassNames.fitted(label, in: s.schema, width: room)), row: captionRow + 1,
        column: col,
        style: mine, maxWidth: room)
    }
    let name = Sanitizer.sanitize((row.path as NSString).lastPathComponent)
    let room = rect.column + rect.columns - col
    if room > 4 { f.put(" " + name, row: captionRow + 1, column: col, style: base, width: room) }
  }

  /// The model's class by name and its probability ("Early-B 0.93") in the class colour, the
  /// name shortened by `ClassNames`' rule only when `width` forces it (or "–" without a
  /// visible prediction); returns columns.
  @discardableResult
  static func prediction(
    _ row: CaseRow, _ s: AppState, row line: Int, column: Int, width: Int, selected: Bool, _ f: inout Frame
  ) -> Int {
    guard let label = row.predictedLabel, let conf = row.confidence else {
      return f.put(
        row.modelHidden ? "hidden" : "–", row: line, column: column,
        style: selected ? Style(.selection) : Style(.dim))
    }
    var style = classStyle(label, s.schema)
    if selected { style.attributes.insert(.reverse) }
    let probability = String(format: " %.2f", conf)
    let name = ClassNames.fitted(label, in: s.schema, width: width - probability.count)
    return f.put(
      Sanitizer.sanitize(name) + probability, row: line, column: column, style: style, maxWidth: width)
  }

  static func listRow(_ s: AppState, _ row: CaseRow, index: Int, line: Int, _ f: inout Frame) {
    let selected = index == s.selection
    let base = selected ? Style(.selection) : Style(.text)
    f.put(String(repeating: " ", count: s.columns), row: line, column: 0, style: base)
    f.put((selected ? "▶" : " ") + String(format: "%6lld", row.id), row: line, column: 0, style: base)
    let name = Sanitizer.sanitize((row.path as NSString).lastPathComponent)
    f.put(name, row: line, column: 9, style: base, width: 33)
    if let label = row.predictedLabel, let conf = row.confidence {
      var st = classStyle(label, s.schema)
      if selected { st.attributes.insert(.reverse) }
      f.put(
        ClassNames.fitted(label, in: s.schema, width: 11) + String(format: " %.2f", conf), row: line,
        column: 43, style: st, width: 16)
    } else {
      f.put(row.modelHidden ? "hidden" : "–", row: line, column: 43, style: base)
    }
    var mine = classStyle(row.myLabel, s.schema)
    if selected { mine.attributes.insert(.reverse) }
    f.put(
      row.myLabel.map { ClassNames.fitted($0, in: s.schema, width: 11) } ?? "–", row: line, column: 60,
      style: mine, width: 11)
    f.put(flags(row), row: line, column: 72, style: selected ? base : Style(.flag))
  }
}
