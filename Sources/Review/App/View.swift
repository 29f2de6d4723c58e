import CaseStore
import Foundation
import Terminal

/// The pure view: `AppState` → `Frame`. Images are placed with sources from `images`, whose
/// pixels the renderer asks for when it paints (a runner passes its own, which keeps decoded
/// images and thumbnails between frames); the view itself reads nothing but the state.
public enum View {
  public static func render(_ s: AppState, images: CaseImages = CaseImages()) -> Frame {
    var f = Frame(rows: s.rows, columns: s.columns)
    if s.tooSmall {
      tooSmall(s, &f)
      return f
    }
    header(s, &f)
    switch s.screen {
    case .browser: browser(s, images, &f)
    case .caseView: caseView(s, images, &f)
    case .maskEditor: maskEditor(s, images, &f)
    case .dashboard: dashboard(s, &f)
    case .triage: triage(s, &f)
    case .adjudication: adjudication(s, images, &f)
    case .models: modelScreen(s, &f)
    }
    statusLine(s, &f)
    retrainStatusItem(s, &f)
    if retrainStatusText(s) == nil { predictionStatusItem(s, &f) }
    sessionPicker(s, &f)
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
    let parts = [
      "BlastView", Sanitizer.sanitize(s.workspaceName), "rater \(Sanitizer.sanitize(s.rater))",
      "session \(session)",
      "model \(model)", "\(s.totalCases) cases",
    ]
    // Too wide for the terminal: the product name goes first, then the case count (issue 18,
    // item 10); only a workspace or session name longer than the line is then cut.
    let fits = [parts, Array(parts.dropFirst()), Array(parts.dropFirst().dropLast())].first {
      TextWidth.of(" " + $0.joined(separator: " · ")) <= s.columns
    }
    let text = " " + (fits ?? Array(parts.dropFirst().dropLast())).joined(separator: " · ")
    f.put(text, row: 0, column: 0, style: Style(.header), width: s.columns)
  }

  static func filterLine(_ s: AppState) -> String {
    if let input = s.searchInput { return " search: \(input)▏  (Enter applies, Esc cancels)" }
    var parts: [String] = []
    if s.filter.unreviewed { parts.append("unreviewed") }
    if s.filter.disagreement { parts.append("disagreement") }
    if s.filter.adjudicated { parts.append("adjudicated") }
    // The schema's names, not its letters (issue 18, item 7: "R" read as nothing to a clinician).
    if let l = s.filter.myLabel { parts.append("mine: \(Sanitizer.sanitize(l))") }
    if let l = s.filter.predictedLabel { parts.append("predicted: \(Sanitizer.sanitize(l))") }
    if let split = s.filter.split { parts.append("split=\(split.rawValue)") }
    if let c = s.filter.confidenceBelow { parts.append(String(format: "confidence<%.1f", c)) }
    if let t = s.filter.pMalignantAtLeast { parts.append(String(format: "possibly malignant (P>=%.3g)", t)) }
    if let q = s.filter.search { parts.append("search \"\(Sanitizer.sanitize(q))\"") }
    let filters = parts.isEmpty ? "all cases" : parts.joined(separator: ", ")
    let sortName =
      s.sort == .added ? "date" : s.sort == .sessionQueue ? "queue (mine to label first)" : s.sort.rawValue
    let matching = s.matching.map { "\($0) matching" } ?? "counting…"
    return " \(filters) · sort \(sortName) \(s.ascending ? "↑" : "↓") · page \(s.pageNumber) · \(matching)"
  }

  /// A label as the screens name it: the schema's display name (issue 18, item 7: the letters
  /// read as nothing to a clinician), or "none".
  static func labelName(_ label: String?) -> String {
    label.map { Sanitizer.sanitize($0) } ?? "none"
  }

  static func classIndex(_ label: String?, _ schema: LabelSchema) -> Int? {
    guard let label else { return nil }
    return schema.classes.firstIndex { $0.name == label }
  }

  static func classStyle(_ label: String?, _ schema: LabelSchema) -> Style {
    classIndex(label, schema).map { Style(.classLabel($0)) } ?? Style(.dim)
  }

  /// `text` broken at spaces into lines of at most `width` columns (a word longer than that
  /// is cut by the frame). Text that fits is returned as it is, spacing and all.
  static func wrapped(_ text: String, width: Int) -> [String] {
    guard width > 4, TextWidth.of(text) > width else { return [text] }
    var lines: [String] = []
    var current = ""
    for word in text.split(separator: " ", omittingEmptySubsequences: true) {
      let candidate = current.isEmpty ? String(word) : current + " " + word
      if TextWidth.of(candidate) > width && !current.isEmpty {
        lines.append(current)
        current = String(word)
      } else {
        current = candidate
      }
    }
    if !current.isEmpty { lines.append(current) }
    return lines
  }

  /// Flags of a tile: U unreviewed, D disagreement, A adjudicated (a final label settles the
  /// disagreement, so it replaces D), M mask edited, L low confidence.
  public static func flags(_ row: CaseRow) -> String {
    var flags = ""
    if row.myLabel == nil { flags += "U" }
    if row.adjudicated == true {
      flags += "A"
    } else if row.disagreement == true {
      flags += "D"
    }
    if row.myMask { flags += "M" }
    if let c = row.confidence, c < KeyMap.lowConfidence { flags += "L" }
    return flags
  }

  /// The key hints of the status line, most useful first; `? help` (which lists every key)
  /// always ends the line.
  static func keyHints(_ s: AppState) -> [String] {
    let labelKeys = s.schema.classes.map(\.key).joined(separator: "/")
    switch s.screen {
    case .browser:
      return [
        "Enter open", "\(labelKeys) label", "arrows move", "PgDn/PgUp page", "/ search", "u unreviewed",
        "+/- size", "q quit",
      ]
    case .caseView:
      // A hint only where it can act (no "accept model" while the model is hidden or has not
      // predicted the case).
      let accept = s.detail?.prediction != nil ? ["a accept model"] : []
      // Fill or outline acts only on a mask overlay that is on.
      let style = s.overlays.any ? [s.maskStyle.hint] : []
      return ["\(labelKeys) label"] + accept + ["m mask"] + style + [
        "n/p next/previous", "Esc browser", "q quit",
      ]
    case .maskEditor:
      return [
        "Space pen", "e eraser", "[ ] radius", "f fill", "d delete",
      ] + (s.modelMask != nil ? ["a accept model"] : []) + ["u undo", s.maskStyle.hint, "Esc back"]
    case .dashboard:
      // Only the session's creator can close it, and only while it is open.
      let close =
        s.sessionInfo.map { $0.createdBy == s.rater && $0.isOpen } ?? false ? ["C close session"] : []
      return ["Tab next pair"] + close + ["! triage", "Esc back", "q quit"]
    case .triage:
      return ["↑/↓ move", "Enter adjudicate", "[ ] confidence threshold", "Esc back", "q quit"]
    case .adjudication:
      return [
        "\(labelKeys) final label", "←/→ rater", "t take mask", "m edit mask", "r reason", "Enter record",
        s.maskStyle.hint, "Esc back",
      ]
    case .models:
      return ["↑/↓ select", "p promote", "R roll back", "T retrain", "Esc back", "q quit"]
    }
  }

  /// The hints that fit in `width` columns, in order, joined by " · ", always ending with
  /// "? help": a hint that does not fit is left out whole, never cut (issue 18, item 10: at
  /// 80 columns the key lines were cut mid-word), and the help lists every key.
  static func keyLine(_ hints: [String], width: Int) -> String {
    let help = "? help"
    var line = ""
    for hint in hints {
      let candidate = line + hint + " · "
      if TextWidth.of(" " + candidate + help) <= width { line = candidate }
    }
    return " " + line + help
  }

  static func statusLine(_ s: AppState, _ f: inout Frame) {
    let row = s.rows - 1
    if let m = s.status {
      let style = m.kind == .error ? Style(.statusError) : m.kind == .ok ? Style(.statusOK) : Style(.status)
      // A message longer than the line wraps upwards (at most three lines), never cut.
      let lines = wrapped(m.text, width: s.columns - 2).suffix(3)
      for (i, text) in lines.enumerated() {
        f.put(" " + text, row: row - lines.count + 1 + i, column: 0, style: style, width: s.columns)
      }
      return
    }
    // Background work's progress takes the line's right end: the keys get the rest. The
    // screen's last cell stays empty: curses leaves the bottom-right corner unwritten (writing
    // it would scroll), so a line that filled it lost its last letter in a real terminal.
    let item = retrainStatusText(s) ?? predictionStatusText(s)
    let reserved = item.map { min(TextWidth.of(" " + $0 + " "), statusItemWidth(s)) } ?? 0
    let text = keyLine(keyHints(s), width: s.columns - 1 - reserved)
    f.put(text, row: row, column: 0, style: Style(.status), width: s.columns)
  }

  /// The help overlay, generated from the key map of the current screen.
  /// Key lines per help page and the number of pages: one page when every key fits on the
  /// screen, else pages of what fits (the last line says how to turn them).
  /// What each screen's badges and marks mean, listed after its keys in the help (issue 18:
  /// the U/D/M/L badges and `me:·` were explained nowhere on screen).
  static func legend(_ s: AppState) -> [(String, String)] {
    let names = s.schema.classNames.map { Sanitizer.sanitize($0) }
    let example = names[min(2, names.count - 1)]
    var out: [(String, String)]
    switch s.screen {
    case .browser:
      out = [
        ("", "Badges on each case:"),
        ("\(example) 0.83", "the model's class and its probability"),
        ("hidden", "model hidden until I label (session)"),
        ("–", "no prediction yet"),
        ("me:\(example)", "my label (shown once I labelled it)"),
        ("U", "unreviewed: I have not labelled it"),
        ("D", "disagreement: raters' labels differ"),
        ("A", "adjudicated: final label set (replaces D)"),
        ("M", "my mask: I drew its nucleus mask"),
        ("L", "low confidence: model below \(String(format: "%.1f", KeyMap.lowConfidence))"),
        ("▶", "the selected case"),
      ]
      let shown = ClassNames.fitted(
        names, width: s.grid.tileColumns - 1 - TextWidth.of("▶#1234 ") - TextWidth.of(" 0.83"))
      if let short = ClassNames.legend(names, shown: shown), s.graphics {
        out.append(("", "Names shortened to fit the tiles (+ widens them):"))
        for part in wrapped(short, width: min(s.columns - 4, 64) - 6) { out.append(("", "  " + part)) }
      }
    case .caseView:
      out = [
        ("", "Marks on the case:"),
        ("[1] \(names[0])", "a class: its key, name and the model's bar"),
        ("⚑", "possibly malignant (screening point)"),
        ("⚠", "colour unlike training; or scale bar"),
        ("Final", "the adjudicated label, who decided and why"),
      ]
    case .triage:
      out = [
        ("", "Columns:"),
        ("raters", "each rater and their label"),
        ("model", "the model's class and its probability"),
      ]
    case .dashboard:
      out = [
        ("", "The confusion heatmap:"),
        ("rows, columns", "the first and second rater's labels"),
        ("shade, count", "cases; brighter is more; diagonal bold"),
        ("name.", "name shortened to fit (legend below)"),
      ]
    default:
      out = []
    }
    return out
  }

  /// The help's lines: each key binding, then the legend.
  static func helpEntries(_ s: AppState) -> [(String, String)] {
    KeyMap.bindings(for: s).map { ($0.keys.map(\.description).joined(separator: " "), $0.help) } + legend(s)
  }

  static func helpPaging(_ s: AppState) -> (perPage: Int, pages: Int) {
    let n = helpEntries(s).count
    let per = max(1, s.rows - 4)
    return n <= per ? (max(1, n), 1) : (per, (n + per - 1) / per)
  }

  static func help(_ s: AppState, _ f: inout Frame) {
    let bindings = helpEntries(s)
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
      if b.0.isEmpty {
        f.put(b.1, row: rect.row + 1 + i, column: rect.column + 2, style: Style(.title), width: width - 4)
        continue
      }
      f.put(b.0, row: rect.row + 1 + i, column: rect.column + 2, style: Style(.accent), width: keyColumn)
      f.put(b.1, row: rect.row + 1 + i, column: rect.column + 2 + keyColumn, width: width - keyColumn - 4)
    }
    let more = page + 1 < pages ? "space: more keys · any other key closes" : "any key closes this help"
    f.put(
      pages > 1 ? "page \(page + 1) of \(pages) · \(more)" : "any key closes this help", row: rect.bottom - 2,
      column: rect.column + 2, style: Style(.dim), width: width - 4)
    // Images under the overlay would be drawn over it: the overlay hides them.
    f.images.removeAll { $0.rect.intersects(rect) }
  }
}
