import CaseStore
import Foundation
import Terminal

/// The pure view: `AppState` → `Frame`.
public enum View {
  public static func render(_ s: AppState) -> Frame {
    var f = Frame(rows: s.rows, columns: s.columns)
    if s.tooSmall {
      tooSmall(s, &f)
      return f
    }
    header(s, &f)
    switch s.screen {
    case .browser: browser(s, &f)
    case .caseView: caseView(s, &f)
    case .maskEditor: maskEditor(s, &f)
    case .dashboard: dashboard(s, &f)
    case .triage: triage(s, &f)
    case .adjudication: adjudication(s, &f)
    case .models: modelScreen(s, &f)
    }
    statusLine(s, &f)
    retrainStatusItem(s, &f)
    if retrainStatusText(s) == nil { predictionStatusItem(s, &f) }
    if s.showHelp { help(s, &f) }
    return f
  }

  // MARK: Pieces

  static func tooSmall(_ s: AppState, _ f: inout Frame) {
    let lines = [
      "Enlarge the terminal",
      "BlastView needs at least 80 × 24; this one is \(s.columns) × \(s.rows).",
      "Your work resumes as soon as it is large enough. (q quits)",
    ]
    for (i, line) in lines.enumerated() {
      let row = max(0, s.rows / 2 - 1 + i)
      let col = max(0, (s.columns - TextWidth.of(line)) / 2)
      f.put(line, row: row, column: col, style: i == 0 ? Style(.title) : Style(.text))
    }
  }

  static func header(_ s: AppState, _ f: inout Frame) {
    let session = sessionHeader(s)
    let model = s.modelVersion.map { "v\($0)" } ?? "none"
    let text =
      " BlastView · \(Sanitizer.sanitize(s.workspaceName)) · rater \(Sanitizer.sanitize(s.rater)) · session \(session) · model \(model) · \(s.totalCases) cases"
    f.put(text, row: 0, column: 0, style: Style(.header), width: s.columns)
  }

  static func filterLine(_ s: AppState) -> String {
    if let input = s.searchInput { return " search: \(input)▏  (Enter applies, Esc cancels)" }
    var parts: [String] = []
    if s.filter.unreviewed { parts.append("unreviewed") }
    if s.filter.disagreement { parts.append("disagreement") }
    if let l = s.filter.myLabel { parts.append("mine=\(letter(l, s.schema))") }
    if let l = s.filter.predictedLabel { parts.append("predicted=\(letter(l, s.schema))") }
    if let split = s.filter.split { parts.append("split=\(split.rawValue)") }
    if let c = s.filter.confidenceBelow { parts.append(String(format: "confidence<%.1f", c)) }
    if let q = s.filter.search { parts.append("search \"\(Sanitizer.sanitize(q))\"") }
    let filters = parts.isEmpty ? "all cases" : parts.joined(separator: ", ")
    let sortName =
      s.sort == .added ? "date" : s.sort == .sessionQueue ? "queue (mine to label first)" : s.sort.rawValue
    let matching = s.matching.map { "\($0) matching" } ?? "counting…"
    return " \(filters) · sort \(sortName) \(s.ascending ? "↑" : "↓") · page \(s.pageNumber) · \(matching)"
  }

  static func letter(_ label: String?, _ schema: LabelSchema) -> String {
    guard let label else { return "·" }
    return schema.classes.first { $0.name == label }?.letter ?? "?"
  }

  static func classIndex(_ label: String?, _ schema: LabelSchema) -> Int? {
    guard let label else { return nil }
    return schema.classes.firstIndex { $0.name == label }
  }

  static func classStyle(_ label: String?, _ schema: LabelSchema) -> Style {
    classIndex(label, schema).map { Style(.classLabel($0)) } ?? Style(.dim)
  }

  /// Flags of a tile: U unreviewed, D disagreement, M mask edited, L low confidence.
  public static func flags(_ row: CaseRow) -> String {
    var flags = ""
    if row.myLabel == nil { flags += "U" }
    if row.disagreement == true { flags += "D" }
    if row.myMask { flags += "M" }
    if let c = row.confidence, c < KeyMap.lowConfidence { flags += "L" }
    return flags
  }

  static func browser(_ s: AppState, _ f: inout Frame) {
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
        tile(s, row, index: i, &f)
      }
    } else {
      f.put(
        "  case   file                              predicted        mine  flags", row: grid.top, column: 0,
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
      row: g.top + (index / g.across) * BrowserGrid.tileRows,
      column: (index % g.across) * BrowserGrid.tileColumns,
      rows: BrowserGrid.tileRows - 1, columns: BrowserGrid.tileColumns - 1)
  }

  /// The tile (or list row) index under a cell, for mouse clicks.
  public static func tileIndex(at p: CellPosition, in s: AppState) -> Int? {
    let g = s.grid
    if s.graphics {
      let r = (p.row - g.top) / BrowserGrid.tileRows
      let c = p.column / BrowserGrid.tileColumns
      guard p.row >= g.top, r < g.down, c < g.across else { return nil }
      return r * g.across + c
    }
    let i = p.row - g.top - 1
    return i >= 0 && i < g.down ? i : nil
  }

  static func tile(_ s: AppState, _ row: CaseRow, index: Int, _ f: inout Frame) {
    let rect = tileRect(index, in: s)
    let selected = index == s.selection
    let imageRect = CellRect(row: rect.row, column: rect.column, rows: rect.rows - 2, columns: rect.columns)
    f.place(
      ImagePlacement(
        key: "thumb:\(row.id)", rect: imageRect,
        source: CaseImages.thumbnail(
          path: row.imagePath, cachePath: row.thumbnailPath, width: row.width, height: row.height)))
    let captionRow = rect.row + rect.rows - 2
    let base = selected ? Style(.selection) : Style(.text)
    f.put(String(repeating: " ", count: rect.columns), row: captionRow, column: rect.column, style: base)
    f.put(String(repeating: " ", count: rect.columns), row: captionRow + 1, column: rect.column, style: base)
    var col = rect.column
    col += f.put((selected ? "▶" : " ") + "#\(row.id) ", row: captionRow, column: col, style: base)
    col += prediction(row, s, row: captionRow, column: col, selected: selected, &f)
    col += f.put(" me:", row: captionRow, column: col, style: base)
    var mine = classStyle(row.myLabel, s.schema)
    if selected { mine.attributes.insert(.reverse) }
    f.put(letter(row.myLabel, s.schema), row: captionRow, column: col, style: mine)
    let name = Sanitizer.sanitize((row.path as NSString).lastPathComponent)
    let flags = flags(row)
    var flagStyle = Style(.flag)
    if selected { flagStyle.attributes.insert(.reverse) }
    let used = f.put(
      " " + flags, row: captionRow + 1, column: rect.column, style: flags.isEmpty ? base : flagStyle)
    f.put(
      " " + name, row: captionRow + 1, column: rect.column + used, style: base, width: rect.columns - used)
  }

  /// "E 0.93" in the class colour (or "–" without a visible prediction); returns columns.
  static func prediction(
    _ row: CaseRow, _ s: AppState, row line: Int, column: Int, selected: Bool, _ f: inout Frame
  ) -> Int {
    guard let label = row.predictedLabel, let conf = row.confidence else {
      return f.put(
        row.modelHidden ? "hidden" : "–", row: line, column: column,
        style: selected ? Style(.selection) : Style(.dim))
    }
    var style = classStyle(label, s.schema)
    if selected { style.attributes.insert(.reverse) }
    return f.put(
      String(format: "%@ %.2f", letter(label, s.schema), conf), row: line, column: column, style: style)
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
        String(format: "%@ %@ %.2f", letter(label, s.schema), label, conf), row: line, column: 43, style: st,
        width: 16)
    } else {
      f.put(row.modelHidden ? "hidden" : "–", row: line, column: 43, style: base)
    }
    var mine = classStyle(row.myLabel, s.schema)
    if selected { mine.attributes.insert(.reverse) }
    f.put(letter(row.myLabel, s.schema), row: line, column: 60, style: mine)
    f.put(flags(row), row: line, column: 66, style: selected ? base : Style(.flag))
  }

  static func panelWidth(_ s: AppState) -> Int { max(36, min(60, s.columns * 2 / 5)) }

  /// Where the case view and the mask editor draw the case image.
  public static func caseImageRect(_ s: AppState) -> CellRect {
    CellRect(row: 1, column: 0, rows: s.rows - 2, columns: s.columns - panelWidth(s) - 1)
  }

  static func maskEditor(_ s: AppState, _ f: inout Frame) {
    guard let e = s.editor, let d = s.detail else { return }
    let r = d.record
    let rect = caseImageRect(s)
    if s.graphics {
      let damages = e.damageSince.map {
        ImageDamage(since: $0.since, pixels: $0.region, imageWidth: e.width, imageHeight: e.height)
      }
      f.place(
        ImagePlacement(
          key: e.imageKey, rect: rect,
          source: CaseImages.editing(path: r.imagePath, editor: e, colours: s.overlayColours),
          damages: damages))
    } else {
      f.put(
        " (graphics off: the mask is not shown; --graphics blocks or sixel)", row: 2, column: 0,
        style: Style(.dim))
    }
    let panel = panelWidth(s)
    let x = rect.right + 1
    var y = 1
    func line(_ text: String, _ style: Style = Style(.text)) {
      guard y < s.rows - 1 else { return }
      f.put(text, row: y, column: x, style: style, width: panel)
      y += 1
    }
    line("Mask editor · case #\(r.id)", Style(.title))
    line(Sanitizer.sanitize((r.path as NSString).lastPathComponent), Style(.dim))
    y += 1
    line(
      "Tool: \(e.tool == .paint ? "brush (paint)" : "eraser")",
      e.tool == .paint ? Style(.accent) : Style(.warning))
    line("Radius: \(e.radius) px   [ smaller  ] larger")
    line("Pen: \(e.strokeActive ? "down (Space lifts and saves)" : "up (Space puts it down)")")
    line("Cursor: \(e.cursorX), \(e.cursorY) of \(e.width) × \(e.height)")
    line("Nucleus pixels: \(e.nucleusPixels)")
    line("Undo \(e.undoStack.count) · redo \(e.redoStack.count)")
    line(s.modelMask == nil ? "Model mask: none" : "Model mask: a accepts it")
    line(s.referenceMask == nil ? "Reference mask: none" : "Reference mask: r takes it")
    y += 1
    line("hjkl/arrows move 1 px, HJKL/Shift 8 px", Style(.dim))
    line("f fill · d delete nucleus · c clear", Style(.dim))
    line("u undo · Ctrl-R redo · Esc case view", Style(.dim))
    line("Mouse: drag to paint", Style(.dim))
  }

  static func caseView(_ s: AppState, _ f: inout Frame) {
    guard let d = s.detail else { return }
    let r = d.record
    let panelWidth = panelWidth(s)
    let imageRect = caseImageRect(s)
    let imageColumns = imageRect.columns
    if s.graphics {
      f.place(explainedImagePlacement(s, d, rect: imageRect))
    } else {
      f.put(" (graphics off: \(r.width) × \(r.height) image)", row: 2, column: 0, style: Style(.dim))
    }
    let x = imageColumns + 1
    var y = 1
    func line(_ text: String, _ style: Style = Style(.text)) {
      guard y < s.rows - 1 else { return }
      f.put(text, row: y, column: x, style: style, width: panelWidth)
      y += 1
    }
    line("Case #\(r.id)", Style(.title))
    line(Sanitizer.sanitize((r.path as NSString).lastPathComponent))
    line(
      "\(r.split.rawValue) · \(r.width) × \(r.height) · reference \(r.referenceLabel.map { Sanitizer.sanitize($0) } ?? "—")",
      Style(.dim))
    y += 1
    if let p = d.prediction {
      line(
        "Model v\(p.modelVersion): \(letter(p.label, s.schema)) \(p.label) \(String(format: "%.2f", p.confidence))",
        Style(.title))
      // Issue 10: a warning beside the prediction, never a change of it.
      if p.colourUnusual == true {
        line("⚠ colour unlike the training data;", Style(.warning))
        line("  prediction less reliable", Style(.warning))
      }
      let barWidth = max(6, panelWidth - 24)
      for (i, cls) in s.schema.classes.enumerated() where i < p.probabilities.count {
        let prob = p.probabilities[i]
        let filled = Int((prob * Double(barWidth)).rounded())
        guard y < s.rows - 1 else { break }
        var col = x
        col += f.put("[\(cls.key)] \(cls.letter) ", row: y, column: col, style: Style(.classLabel(i)))
        col += f.put(TextWidth.padded(cls.name, to: 8), row: y, column: col)
        col += f.put(String(repeating: "█", count: filled), row: y, column: col, style: Style(.classLabel(i)))
        col += f.put(
          String(repeating: "░", count: barWidth - filled), row: y, column: col, style: Style(.barEmpty))
        f.put(String(format: " %.2f", prob), row: y, column: col)
        y += 1
      }
      if let pm = p.pMalignant { line(String(format: "P(malignant) %.2f", pm)) }
      line("Nuclei detected: \(p.detections.count)")
    } else {
      line(d.modelHidden ? "Model hidden in this session" : "No prediction yet", Style(.dim))
      for cls in s.schema.classes {
        line(
          "[\(cls.key)] \(cls.letter) \(cls.name)",
          Style(.classLabel(s.schema.classes.firstIndex { $0.name == cls.name } ?? 0)))
      }
    }
    y += 1
    if let mine = d.mine?.label {
      line("My label: \(letter(mine, s.schema)) \(mine)", classStyle(mine, s.schema))
    } else {
      line("My label: none (press \(s.schema.classes.map(\.key).joined(separator: "/")))", Style(.warning))
    }
    if d.blinded {
      line("Other raters: hidden until you label (blinded)", Style(.dim))
    } else {
      let others = d.current.filter { $0.rater != s.rater && $0.label != nil }
      line(
        others.isEmpty
          ? "Other raters: none"
          : "Other raters: "
            + others.map { "\(Sanitizer.sanitize($0.rater)) \(letter($0.label, s.schema))" }.joined(
              separator: ", "))
    }
    y = overlayLegend(s, d, &f, column: x, row: y, width: panelWidth)
    y = explanationLegend(s, d, &f, column: x, row: y, width: panelWidth)
    y += 1
    line("History", Style(.title))
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyy-MM-dd HH:mm"
    formatter.timeZone = TimeZone(identifier: "UTC")
    for a in s.history {
      guard y < s.rows - 1 else { break }
      let what = [
        a.label.map { "\(letter($0, s.schema)) \($0)" },
        a.maskID != nil && a.changed.contains(.mask) ? "mask" : nil,
      ]
      .compactMap { $0 }.joined(separator: " + ")
      line(
        "\(formatter.string(from: a.createdAt)) \(Sanitizer.sanitize(a.rater)): \(what.isEmpty ? "cleared" : what)",
        Style(.dim))
    }
  }

  static func statusLine(_ s: AppState, _ f: inout Frame) {
    let row = s.rows - 1
    let text: String
    let style: Style
    if let m = s.status {
      text = " " + m.text
      style = m.kind == .error ? Style(.statusError) : m.kind == .ok ? Style(.statusOK) : Style(.status)
    } else {
      switch s.screen {
      case .browser:
        text = " Enter open · arrows/hjkl move · PgDn/PgUp page · / search · u unreviewed · ? help · q quit"
      case .caseView:
        let keys = s.schema.classes.map(\.key).joined(separator: "/")
        text = " \(keys) label · a accept model · m mask · n/p next/previous · Esc browser · ? help · q quit"
      case .maskEditor:
        text =
          " Space pen · e eraser · [ ] radius · f fill · d delete · a accept model · u undo · Esc back · ? help"
      case .dashboard:
        text = " Tab next pair · C close session · ! triage · Esc back · ? help · q quit"
      case .triage:
        text = " ↑/↓ move · Enter adjudicate · [ ] confidence threshold · Esc back · ? help · q quit"
      case .adjudication:
        let keys = s.schema.classes.map(\.key).joined(separator: "/")
        text =
          " \(keys) final label · ←/→ rater · t take mask · m edit mask · r reason · Enter record · Esc back"
      case .models:
        text = " ↑/↓ select · p promote · R roll back · T retrain · Esc back · ? help · q quit"
      }
      style = Style(.status)
    }
    f.put(text, row: row, column: 0, style: style, width: s.columns)
  }

  /// The help overlay, generated from the key map of the current screen.
  /// Key lines per help page and the number of pages: one page when every key fits on the
  /// screen, else pages of what fits (the last line says how to turn them).
  static func helpPaging(_ s: AppState) -> (perPage: Int, pages: Int) {
    let n = KeyMap.bindings(for: s).count
    let per = max(1, s.rows - 4)
    return n <= per ? (max(1, n), 1) : (per, (n + per - 1) / per)
  }

  static func help(_ s: AppState, _ f: inout Frame) {
    let bindings = KeyMap.bindings(for: s)
    let keyColumn = 18
    let width = min(s.columns - 4, 64)
    let (perPage, pages) = helpPaging(s)
    let page = min(s.helpPage, pages - 1)
    let shown = Array(
      bindings[min(bindings.count, page * perPage)..<min(bindings.count, (page + 1) * perPage)])
    // The whole screen when needed (header and status line included); more keys than that go
    // on further pages.
    let height = pages > 1 ? s.rows : min(s.rows, bindings.count + 4)
    let rect = CellRect(
      row: max(0, (s.rows - height) / 2), column: (s.columns - width) / 2, rows: height, columns: width)
    f.fill(rect, style: Style(.text))
    let title: String
    switch s.screen {
    case .browser: title = "Keys: browser"
    case .caseView: title = "Keys: case view"
    case .maskEditor: title = "Keys: mask editor"
    case .dashboard: title = "Keys: agreement dashboard"
    case .triage: title = "Keys: triage"
    case .adjudication: title = "Keys: adjudication"
    case .models: title = "Keys: models"
    }
    f.box(rect, title: title)
    for (i, b) in shown.enumerated() {
      let keys = b.keys.map(\.description).joined(separator: " ")
      f.put(keys, row: rect.row + 1 + i, column: rect.column + 2, style: Style(.accent), width: keyColumn)
      f.put(b.help, row: rect.row + 1 + i, column: rect.column + 2 + keyColumn, width: width - keyColumn - 4)
    }
    let more = page + 1 < pages ? "space: more keys · any other key closes" : "any key closes this help"
    f.put(
      pages > 1 ? "page \(page + 1) of \(pages) · \(more)" : "any key closes this help", row: rect.bottom - 2,
      column: rect.column + 2, style: Style(.dim), width: width - 4)
    // Images under the overlay would be drawn over it: the overlay hides them.
    f.images.removeAll { $0.rect.intersects(rect) }
  }
}
