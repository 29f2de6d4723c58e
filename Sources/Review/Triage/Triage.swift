import CaseStore
import Foundation
import Terminal

/// The disagreement triage queue (issue 8): the store's `triageQueue` (raters disagree with
/// each other or with the promoted model, or the model is unsure), most severe first.
public struct TriageState: Equatable, Sendable {
  public var items: [TriageItem] = []
  /// False until the first queue arrives.
  public var loaded = false
  public var selection = 0
  /// The first row shown (the list scrolls with the selection).
  public var top = 0
  /// Where Esc goes back to, and the case to reopen when that is the case view.
  public var returnTo: Screen
  public var returnCase: Int64?

  public init(returnTo: Screen, returnCase: Int64? = nil) {
    self.returnTo = returnTo
    self.returnCase = returnCase
  }

  public var selected: TriageItem? { items.indices.contains(selection) ? items[selection] : nil }

  mutating func scrollToSelection(visible rows: Int) {
    let rows = max(1, rows)
    if selection < top { top = selection }
    if selection >= top + rows { top = selection - rows + 1 }
    top = max(0, min(top, max(0, items.count - rows)))
  }
}

/// Triage's threshold steps, on the model's top probability.
let triageThresholdStep = 0.05
let triageThresholdRange = 0.05...1.0

func triageAction(_ s: inout AppState, _ action: Action) -> [Effect] {
  guard var t = s.triage else { return [] }
  let rows = View.triageListRows(s)
  switch action {
  case .back:
    s.screen = t.returnTo == .caseView && t.returnCase == nil ? .browser : t.returnTo
    if s.screen == .dashboard && s.dashboard == nil { s.screen = .browser }
    s.triage = nil
    if s.screen == .caseView, let id = t.returnCase { return [.loadCase(id)] }
    // Adjudications made meanwhile change the dashboard's numbers.
    if s.screen == .dashboard { return [.sessions(.loadDashboard)] }
    return []
  case .up: t.selection = max(0, t.selection - 1)
  case .down: t.selection = min(max(0, t.items.count - 1), t.selection + 1)
  case .pageUp: t.selection = max(0, t.selection - rows)
  case .pageDown: t.selection = min(max(0, t.items.count - 1), t.selection + rows)
  case .firstPage: t.selection = 0
  case .open:
    guard let item = t.selected else {
      s.status = StatusMessage("The queue is empty")
      return []
    }
    // The runner asks the store for my role first and refuses if I am no adjudicator.
    return [.sessions(.loadAdjudication(caseID: item.caseID))]
  case .session(.lowerThreshold), .session(.raiseThreshold):
    let step = action == .session(.lowerThreshold) ? -triageThresholdStep : triageThresholdStep
    let next = ((s.triageConfidence + step) * 100).rounded() / 100
    s.triageConfidence = min(triageThresholdRange.upperBound, max(triageThresholdRange.lowerBound, next))
    s.status = StatusMessage(
      String(format: "Low confidence now means the model's top probability is below %.2f", s.triageConfidence)
    )
    s.triage = t
    return [.sessions(.loadTriage(confidenceBelow: s.triageConfidence))]
  default:
    return []
  }
  t.scrollToSelection(visible: rows)
  s.triage = t
  return []
}

extension TriageSeverity {
  /// How the queue names a severity.
  public var phrase: String {
    switch self {
    case .possiblyMalignantCalledBenign: return "possibly malignant, rated benign"
    case .groupDisagreement: return "benign vs malignant"
    case .classDisagreement: return "subtype"
    case .lowConfidence: return "low confidence"
    }
  }
}

extension TriageItem {
  /// Why the case is in the queue, in words.
  public var reasons: String {
    var why: [String] = []
    if severity == .possiblyMalignantCalledBenign { why.append("model: possibly malignant") }
    if ratersDisagree { why.append("raters differ") }
    if disagreesWithModel { why.append("vs model") }
    if why.isEmpty { why.append("model unsure") }
    return why.joined(separator: ", ")
  }
}

extension View {
  /// The heading lines above the list, wrapped to the width (the role line carries a
  /// command, runnable as printed, that must not be cut).
  static func triageHeadings(_ s: AppState) -> [(String, Style)] {
    guard let t = s.triage else { return [] }
    let counts = Dictionary(grouping: t.items, by: \.severity).mapValues(\.count)
    let scope = s.session.map { Sanitizer.sanitize($0) } ?? "workspace"
    let roleLine =
      s.role == .adjudicator
      ? " You are an adjudicator: Enter opens the selected case to adjudicate it"
      : " Role \(s.role.rawValue): adjudicating needs "
        + View.command(s, ["rater", "set-role"], [s.rater, "adjudicator"])
    let lines: [(String, Style)] = [
      (
        " Triage · \(scope) · \(t.items.count) case\(t.items.count == 1 ? "" : "s"): "
          // The screening severity is named only when it has cases (it needs an operating point).
          + TriageSeverity.allCases.filter { $0 != .possiblyMalignantCalledBenign || counts[$0] != nil }
          .map { "\(counts[$0] ?? 0) \($0.phrase)" }.joined(separator: " · "),
        Style(.title)
      ),
      (
        String(
          format: " Low confidence: the model's top probability below %.2f ([ ] change it)",
          s.triageConfidence),
        Style(.dim)
      ),
      (roleLine, s.role == .adjudicator ? Style(.accent) : Style(.warning)),
    ]
    return lines.flatMap { line in
      wrapped(line.0, width: s.columns - 2).enumerated().map {
        ($0.offset == 0 ? $0.element : "   " + $0.element, line.1)
      }
    }
  }

  /// The row of the list's column headings (the list starts below it).
  static func triageHeadingRow(_ s: AppState) -> Int { 1 + triageHeadings(s).count }

  /// Rows of the triage list (below its heading lines, above the status line).
  /// Cases in view in the triage list (below its heading lines, above the status line).
  static func triageListRows(_ s: AppState) -> Int {
    max(1, (s.rows - triageHeadingRow(s) - 2) / triageLinesPerCase(s))
  }

  /// Lines per case: one on a wide screen; below 100 columns two, the raters' labels and the
  /// model's class on the second, so the class names stand whole there (at 80 columns one
  /// line left them 13 columns: letters before issue 18, item 7).
  static func triageLinesPerCase(_ s: AppState) -> Int { s.columns < 100 ? 2 : 1 }

  static func triage(_ s: AppState, _ f: inout Frame) {
    guard let t = s.triage else { return }
    for (i, line) in triageHeadings(s).enumerated() {
      f.put(line.0, row: 1 + i, column: 0, style: line.1, width: s.columns)
    }
    let head = triageHeadingRow(s)
    // Columns: case, severity, raters (what is left, 12-40), model (the widest class name and
    // a probability), why.
    let lines = triageLinesPerCase(s)
    let modelWidth = min(16, ClassNames.widest(s.schema) + 5)
    let ratersWidth =
      lines == 2
      ? s.columns - modelWidth - 26 : min(40, max(12, s.columns - 10 - 20 - (modelWidth + 1) - 24))
    let modelColumn = lines == 2 ? s.columns - modelWidth - 1 : 10 + 20 + ratersWidth + 1
    let whyColumn = lines == 2 ? 30 : modelColumn + modelWidth + 1
    let ratersColumn = lines == 2 ? 10 : 30
    f.put(String(repeating: " ", count: s.columns), row: head, column: 0, style: Style(.dim, [.underline]))
    let headings =
      lines == 2
      ? [("case", 2), ("severity", 10), ("why · below: raters and model", whyColumn)]
      : [("case", 2), ("severity", 10), ("raters", 30), ("model", modelColumn), ("why", whyColumn)]
    for (text, column) in headings {
      f.put(text, row: head, column: column, style: Style(.dim, [.underline]))
    }
    guard t.loaded else {
      f.put(" Loading…", row: head + 1, column: 0, style: Style(.dim))
      return
    }
    if t.items.isEmpty {
      f.put(
        " Nothing to triage: no disagreement and no prediction below the threshold (that you may see)",
        row: head + 1, column: 0, style: Style(.dim), width: s.columns)
      return
    }
    let rows = triageListRows(s)
    for (n, i) in (t.top..<min(t.items.count, t.top + rows)).enumerated() {
      let item = t.items[i]
      let y = head + 1 + n * lines
      let selected = i == t.selection
      let base = selected ? Style(.selection) : Style(.text)
      for line in 0..<lines where y + line < s.rows - 1 {
        f.put(String(repeating: " ", count: s.columns), row: y + line, column: 0, style: base)
      }
      let y2 = y + lines - 1
      var col = 0
      col += f.put(
        (selected ? " ▶" : "  ") + TextWidth.padded("#\(item.caseID)", to: 8), row: y, column: col,
        style: base)
      var sev = selected ? base : (item.severity == .groupDisagreement ? Style(.warning) : Style(.text))
      if item.severity == .groupDisagreement { sev.attributes.insert(.bold) }
      f.put(TextWidth.padded(item.severity.phrase, to: 20), row: y, column: 10, style: sev)
      // Class names, shortened by `ClassNames`' rule only as far as the column needs (issue 18,
      // item 7: the letters read as nothing to a clinician).
      let raters = item.labels.keys.sorted()
      func ratersText(_ names: [String: String]) -> String {
        raters.map { "\(Sanitizer.sanitize($0)) \(item.labels[$0].map { names[$0] ?? $0 } ?? "none")" }
          .joined(separator: ", ")
      }
      var text = ratersText([:])
      var cut = ClassNames.widest(s.schema) - 1
      while TextWidth.of(text) > ratersWidth && cut >= ClassNames.minimumLetters {
        let shown = ClassNames.fitted(s.schema.classNames, width: cut)
        text = ratersText(Dictionary(uniqueKeysWithValues: zip(s.schema.classNames, shown)))
        cut -= 1
      }
      if lines == 2 { text = "raters: " + text }
      if y2 < s.rows - 1 {
        f.put(text, row: y2, column: ratersColumn, style: base, width: ratersWidth + (lines == 2 ? 8 : 0))
      }
      let model =
        item.predictedLabel.map { p in
          let probability = item.confidence.map { String(format: " %.2f", $0) } ?? ""
          return ClassNames.fitted(p, in: s.schema, width: modelWidth - probability.count) + probability
        } ?? "–"
      if lines == 2, y2 < s.rows - 1 {
        f.put("model", row: y2, column: modelColumn - 6, style: base)
      }
      if y2 < s.rows - 1 {
        f.put(
          Sanitizer.sanitize(model), row: y2, column: modelColumn,
          style: selected ? base : classStyle(item.predictedLabel, s.schema),
          width: modelWidth)
      }
      col = whyColumn
      f.put(item.reasons, row: y, column: col, style: base, width: max(0, s.columns - col))
    }
  }
}
