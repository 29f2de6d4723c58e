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
    s.triage = nil
    if s.screen == .caseView, let id = t.returnCase { return [.loadCase(id)] }
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
  /// Rows of the triage list (below its three heading lines, above the status line).
  static func triageListRows(_ s: AppState) -> Int { max(1, s.rows - 7) }

  static func triage(_ s: AppState, _ f: inout Frame) {
    guard let t = s.triage else { return }
    let counts = Dictionary(grouping: t.items, by: \.severity).mapValues(\.count)
    let scope = s.session.map { Sanitizer.sanitize($0) } ?? "workspace"
    f.put(
      " Triage · \(scope) · \(t.items.count) case\(t.items.count == 1 ? "" : "s"): "
        // The screening severity is named only when it has cases (it needs an operating point).
        + TriageSeverity.allCases.filter { $0 != .possiblyMalignantCalledBenign || counts[$0] != nil }
        .map { "\(counts[$0] ?? 0) \($0.phrase)" }.joined(separator: " · "),
      row: 1, column: 0, style: Style(.title), width: s.columns)
    f.put(
      String(
        format: " Low confidence: the model's top probability below %.2f ([ ] change it)", s.triageConfidence),
      row: 2, column: 0, style: Style(.dim), width: s.columns)
    let me = Sanitizer.sanitize(s.rater)
    let roleLine =
      s.role == .adjudicator
      ? " You are an adjudicator: Enter opens the selected case to adjudicate it"
      : " Role \(s.role.rawValue): adjudicating needs `blastview rater set-role \(me) adjudicator`"
    f.put(
      roleLine, row: 3, column: 0, style: s.role == .adjudicator ? Style(.accent) : Style(.warning),
      width: s.columns)
    // Columns: case, severity, raters (what is left, 12-40), model, why.
    let ratersWidth = min(40, max(12, s.columns - 10 - 20 - 9 - 24))
    let modelColumn = 10 + 20 + ratersWidth + 1
    let whyColumn = modelColumn + 9
    f.put(String(repeating: " ", count: s.columns), row: 4, column: 0, style: Style(.dim, [.underline]))
    for (text, column) in [
      ("case", 2), ("severity", 10), ("raters", 30), ("model", modelColumn), ("why", whyColumn),
    ] {
      f.put(text, row: 4, column: column, style: Style(.dim, [.underline]))
    }
    guard t.loaded else {
      f.put(" Loading…", row: 5, column: 0, style: Style(.dim))
      return
    }
    if t.items.isEmpty {
      f.put(
        " Nothing to triage: no disagreement and no prediction below the threshold (that you may see)",
        row: 5, column: 0, style: Style(.dim), width: s.columns)
      return
    }
    let rows = triageListRows(s)
    for (n, i) in (t.top..<min(t.items.count, t.top + rows)).enumerated() {
      let item = t.items[i]
      let y = 5 + n
      let selected = i == t.selection
      let base = selected ? Style(.selection) : Style(.text)
      f.put(String(repeating: " ", count: s.columns), row: y, column: 0, style: base)
      var col = 0
      col += f.put(
        (selected ? " ▶" : "  ") + TextWidth.padded("#\(item.caseID)", to: 8), row: y, column: col,
        style: base)
      var sev = selected ? base : (item.severity == .groupDisagreement ? Style(.warning) : Style(.text))
      if item.severity == .groupDisagreement { sev.attributes.insert(.bold) }
      f.put(TextWidth.padded(item.severity.phrase, to: 20), row: y, column: 10, style: sev)
      let raters = item.labels.keys.sorted().map {
        "\(Sanitizer.sanitize($0)) \(letter(item.labels[$0], s.schema))"
      }
      f.put(raters.joined(separator: ", "), row: y, column: 30, style: base, width: ratersWidth)
      let model =
        item.predictedLabel.map { p in
          "\(letter(p, s.schema)) " + (item.confidence.map { String(format: "%.2f", $0) } ?? "")
        } ?? "–"
      f.put(
        model, row: y, column: modelColumn,
        style: selected ? base : classStyle(item.predictedLabel, s.schema),
        width: 8)
      col = whyColumn
      f.put(item.reasons, row: y, column: col, style: base, width: max(0, s.columns - col))
    }
  }
}
