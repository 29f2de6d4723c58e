import Agreement
import CaseStore
import Foundation
import Terminal
import Workflows

/// The agreement dashboard of a session: the report `blastview agree --session --json`
/// prints (`SessionAgreementReport`), recomputed whenever another rater's process commits.
public struct DashboardState: Equatable, Sendable {
  /// nil until the first report arrives.
  public var report: SessionAgreementReport?
  public var updatedAt: Date?
  /// Reports received (the first, then one per change another process made).
  public var refreshes = 0
  /// Which rater pair the confusion heatmap shows (index into the report's pairs).
  public var pair = 0
  /// "Close the session?" is waiting for y.
  public var confirmClose = false
  /// Where Esc goes back to.
  public var returnTo: Screen

  public init(returnTo: Screen) { self.returnTo = returnTo }
}

func dashboardAction(_ s: inout AppState, _ action: Action) -> [Effect] {
  guard var d = s.dashboard else { return [] }
  switch action {
  case .back:
    s.screen = d.returnTo
    s.dashboard = nil
    return []
  case .session(.nextPair):
    let pairs = d.report?.labels.pairwise.count ?? 0
    if pairs > 1 { d.pair = (d.pair + 1) % pairs }
  case .session(.closeSession):
    guard let info = s.sessionInfo ?? d.report?.session else { return [] }
    let name = Sanitizer.sanitize(info.name)
    if !info.isOpen {
      s.status = StatusMessage("Session \(name) is already closed", .error)
    } else if info.createdBy != s.rater {
      s.status = StatusMessage(
        "Only the session's creator, \(Sanitizer.sanitize(info.createdBy)), can close session \(name)", .error
      )
    } else {
      d.confirmClose = true
      s.status = StatusMessage(
        "Close session \(name)? It becomes read-only, blinding ends. y closes, other keys keep it", .error)
    }
  default:
    return []
  }
  s.dashboard = d
  return []
}

extension View {
  static func dashboard(_ s: AppState, _ f: inout Frame) {
    guard let d = s.dashboard else { return }
    var y = 1
    guard let r = d.report else {
      dashboardLine(" Agreement · computing…", Style(.title), s, &f, &y)
      return
    }
    dashboardHeader(s, r, d, &f, y: &y)
    dashboardKappas(s, r, &f, y: &y)
    dashboardConfusion(s, r, d, &f, y: &y)
    dashboardMasksAndModel(s, r, &f, y: &y)
  }

  /// One dashboard line at row `y`, clipped to the screen; nothing below the status row.
  private static func dashboardLine(
    _ text: String, _ style: Style, _ s: AppState, _ f: inout Frame, _ y: inout Int
  ) {
    // Wrapped at word boundaries, continued with an indent, never cut (issue 18, item 10).
    let indent = String(text.prefix { $0 == " " }) + "  "
    for (i, part) in wrapped(text, width: s.columns - 1).enumerated() {
      guard y < s.rows - 1 else { return }
      let lead = i > 0 ? indent : (text.hasPrefix(" ") && !part.hasPrefix(" ") ? " " : "")
      f.put(lead + part, row: y, column: 0, style: style, width: s.columns)
      y += 1
    }
  }

  /// The title, the raters' progress, n and (blinded) which labels count.
  private static func dashboardHeader(
    _ s: AppState, _ r: SessionAgreementReport, _ d: DashboardState, _ f: inout Frame, y: inout Int
  ) {
    func line(_ text: String, _ style: Style = Style(.text)) { dashboardLine(text, style, s, &f, &y) }
    let info = r.session
    let safe = Sanitizer.sanitize(_:)
    let updated =
      d.updatedAt.map { time in
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return "live, updated \(formatter.string(from: time))"
      } ?? "live"
    let state = [
      info.isOpen ? "open" : "closed, read-only", info.blinded ? "blinded" : nil,
      info.hideModel ? "model hidden" : nil,
    ].compactMap { $0 }.joined(separator: ", ")
    line(
      " Agreement · session \(safe(info.name)) (\(state)) · read as \(safe(r.readAs ?? "system")) · \(updated)",
      Style(.title))
    let progress = info.raters.map { "\(safe($0)) \(info.labelled[$0] ?? 0)/\(info.caseCount)" }
    line(" Raters: \(progress.joined(separator: " · ")) · created by \(safe(info.createdBy))", Style(.dim))
    var n = " n: \(r.visibleCases) of \(info.caseCount) cases have a label you may see"
    if r.visibleCases < info.caseCount && info.blinded && info.isOpen && info.raters.contains(s.rater) {
      n += " (blinded: others' labels count on the cases you labelled)"
    }
    line(n, Style(.dim))
    if info.blinded {
      // Peek and revise: the statistics count the blind labels; revisions are shown apart.
      let by = r.revisionsByRater
      line(
        by.isEmpty
          ? " Counted: labels given blind · no revisions after unblinding"
          : " Counted: labels given blind · revised after unblinding (not counted): "
            + by.map { "\(safe($0.rater)) \($0.revisions) on \($0.cases)" }.joined(separator: " · "),
        Style(by.isEmpty ? .dim : .warning))
    }
    if s.rows >= 30 { y += 1 }
  }

  /// Cohen's kappa per pair (with CI, band and weighted kappa when there is room); Fleiss and Krippendorff for 3+ raters.
  private static func dashboardKappas(
    _ s: AppState, _ r: SessionAgreementReport, _ f: inout Frame, y: inout Int
  ) {
    func line(_ text: String, _ style: Style = Style(.text)) { dashboardLine(text, style, s, &f, &y) }
    let safe = Sanitizer.sanitize(_:)
    let f3 = { (x: Double) in String(format: "%.3f", x) }
    let labels = r.labels
    // Cohen's kappa per pair, with its CI (and band when there is room) and the weighted kappa.
    let names = labels.pairwise.map { "\(safe(labels.raters[$0.a])) × \(safe(labels.raters[$0.b]))" }
    let nameWidth = max(4, names.map { TextWidth.of($0) }.max() ?? 4)
    let countWidth = String(labels.pairwise.map(\.n).max() ?? 0).count
    let bandWidth = 15
    let kappaWidth = 25  // "-0.176 [-0.604, -0.251] "
    let weighted = r.options.weights != nil
    let withBands =
      3 + nameWidth + 3 + countWidth + 1 + kappaWidth + bandWidth + (weighted ? kappaWidth : 0) <= s.columns
    let weightedColumn = 3 + nameWidth + 3 + countWidth + 1 + kappaWidth + (withBands ? bandWidth : 0)
    if y < s.rows - 1 {
      f.put(" Cohen's kappa [95% CI]", row: y, column: 0, style: Style(.accent))
      if let name = r.options.weights?.name {
        f.put("weighted (\(name))", row: y, column: weightedColumn, style: Style(.accent))
      }
      y += 1
    }
    if labels.pairwise.isEmpty { line("   needs two raters", Style(.dim)) }
    for (i, p) in labels.pairwise.enumerated() where y < s.rows - 1 {
      var text =
        "   " + TextWidth.padded(names[i], to: nameWidth) + " n "
        + TextWidth.padded(String(p.n), to: countWidth)
      text += " " + TextWidth.padded(kappaText(p.cohen, f3, words: false), to: kappaWidth)
      if withBands {
        text += TextWidth.padded(p.cohen.value.map { LandisKoch($0.kappa).rawValue } ?? "", to: bandWidth)
      }
      if let w = p.weighted { text += kappaText(w, f3, words: false) }
      line(text)
    }
    if labels.raters.count >= 3 {
      switch labels.fleiss {
      case .success(let e):
        line(
          " Fleiss' kappa " + f3(e.kappa) + (e.ci95.map { " [\(f3($0.lower)), \(f3($0.upper))]" } ?? "")
            + " over the \(e.n) cases every rater labelled")
      case .failure(let u): line(" Fleiss' kappa undefined: \(u.reason)", Style(.dim))
      }
      line(
        " Krippendorff's alpha " + (labels.krippendorffNominal.value.map(f3) ?? "undefined") + " (ordinal "
          + (labels.krippendorffOrdinal.value.map(f3) ?? "undefined") + ")")
    }
    y += 1
  }

  /// One pair's confusion heatmap and the per-class agreement beside or below it.
  private static func dashboardConfusion(
    _ s: AppState, _ r: SessionAgreementReport, _ d: DashboardState, _ f: inout Frame, y: inout Int
  ) {
    func line(_ text: String, _ style: Style = Style(.text)) { dashboardLine(text, style, s, &f, &y) }
    let safe = Sanitizer.sanitize(_:)
    let f3 = { (x: Double) in String(format: "%.3f", x) }
    let labels = r.labels
    // The confusion matrix of one pair as a heatmap, numbers in every cell; per-class agreement beside it.
    let top = y
    if !labels.pairwise.isEmpty {
      let p = labels.pairwise[min(d.pair, labels.pairwise.count - 1)]
      let more = labels.pairwise.count > 1 ? " · Tab: next pair" : ""
      line(
        " Confusion: \(safe(labels.raters[p.a])) rows × \(safe(labels.raters[p.b])) columns\(more)",
        Style(.accent))
      y = heatmap(p.confusion, s, row: y, &f)
    }
    let layout = heatmapLayout(s, k: labels.pairwise.first?.confusion.k ?? s.schema.classes.count)
    let heatmapWidth = layout.labelWidth + layout.cellWidth * s.schema.classes.count
    let nameWidth = ClassNames.widest(s.schema) + 1
    let rightColumn = max(46, heatmapWidth + 2)
    if s.columns >= rightColumn + nameWidth + 8 {
      var ry = top + 1  // beside the heatmap's column names, below its title
      f.put(" Per-class agreement", row: ry, column: rightColumn, style: Style(.accent))
      ry += 1
      for (i, cls) in s.schema.classes.enumerated() where ry < s.rows - 1 {
        let value =
          i < labels.specificAgreement.count ? labels.specificAgreement[i].value.map(f3) ?? "–" : "–"
        var col = rightColumn + 1
        col += f.put(
          TextWidth.padded(Sanitizer.sanitize(cls.name), to: nameWidth), row: ry, column: col,
          style: Style(.classLabel(i), [.bold]))
        f.put(value, row: ry, column: col)
        ry += 1
      }
      y = max(y, ry)
    } else {
      let parts = s.schema.classes.enumerated().map { i, cls in
        "\(Sanitizer.sanitize(cls.name)) "
          + (i < labels.specificAgreement.count ? labels.specificAgreement[i].value.map(f3) ?? "–" : "–")
      }
      line(" Per-class agreement: " + parts.joined(separator: " · "))
    }
    y += 1
  }

  /// Pooled mask agreement, the model against the consensus and the CLI that prints the same numbers.
  private static func dashboardMasksAndModel(
    _ s: AppState, _ r: SessionAgreementReport, _ f: inout Frame, y: inout Int
  ) {
    func line(_ text: String, _ style: Style = Style(.text)) { dashboardLine(text, style, s, &f, &y) }
    let safe = Sanitizer.sanitize(_:)
    let f3 = { (x: Double) in String(format: "%.3f", x) }
    // Masks between raters.
    if r.masks.allSatisfy({ $0.cases.isEmpty }) {
      line(
        " Masks: no case has a mask from two raters" + (r.masks.isEmpty ? "" : " (that you may see)"),
        Style(.dim))
    } else {
      let parts = r.masks.map { m -> String in
        let dice = m.summary.pooledDice.value.map(f3) ?? "–"
        let iou = m.summary.pooledIoU.value.map(f3) ?? "–"
        return
          "\(safe(m.a)) × \(safe(m.b)) Dice \(dice) IoU \(iou) (\(m.cases.count) case\(m.cases.count == 1 ? "" : "s"))"
      }
      line(" Masks, pooled: " + parts.joined(separator: " · "))
    }

    // The model against the consensus label.
    if let m = r.model {
      if m.modelVersion == nil {
        line(" Model: none promoted", Style(.dim))
      } else if let c = m.report {
        var text =
          " Model v\(m.modelVersion!) vs consensus, \(m.n) cases: accuracy \(f3(c.accuracy)) · kappa \(c.kappa.value.map(f3) ?? "undefined")"
        if m.hiddenPredictions > 0 { text += " · \(m.hiddenPredictions) hidden until you label" }
        line(text)
        line(
          "   macro: precision \(f3(c.macro.precision)) recall \(f3(c.macro.recall)) F1 \(f3(c.macro.f1)) "
            + "specificity \(f3(c.macro.specificity)) NPV \(f3(c.macro.npv))")
      } else {
        var text =
          " Model v\(m.modelVersion!): no case has both a consensus label and a prediction you may see"
        if m.hiddenPredictions > 0 { text += " (\(m.hiddenPredictions) hidden until you label)" }
        line(text, Style(.dim))
      }
    }
    if s.rows >= 30 { y += 1 }
    line(" CLI: " + agreeCommand(s, r), Style(.dim))
  }

  /// The command line that prints this dashboard's numbers as JSON.
  static func agreeCommand(_ s: AppState, _ r: SessionAgreementReport) -> String {
    var arguments = ["--session", r.session.name, "--rater", r.readAs ?? s.rater]
    if let w = r.options.weights?.name { arguments += ["--weights", w] }
    return command(s, ["agree"], arguments + ["--json"])
  }

  static func kappaText(
    _ k: Result<KappaEstimate, Undefined>, _ f3: (Double) -> String, words: Bool = true
  ) -> String {
    switch k {
    case .success(let e):
      let band = words ? " " + LandisKoch(e.kappa).rawValue : ""
      return "\(f3(e.kappa)) [\(f3(e.ci95.lower)), \(f3(e.ci95.upper))]\(band)"
    case .failure: return "undefined"
    }
  }

  /// The heatmap's layout: row-label and cell widths and the class names as shown. Names are
  /// whole (issue 18, item 7: the columns were headed by letters) unless the screen is too
  /// narrow, when they are shortened by `ClassNames`' rule and a legend follows the heatmap.
  static func heatmapLayout(_ s: AppState, k: Int) -> (
    labelWidth: Int, cellWidth: Int, rows: [String], columns: [String]
  ) {
    let names = s.schema.classNames.prefix(k).map { Sanitizer.sanitize($0) }
    let widest = names.map(TextWidth.of).max() ?? 1
    let labelWidth = min(max(12, widest + 3), max(8, (s.columns - 1) / 3))
    let cellWidth = min(max(6, widest + 1), max(6, (s.columns - 1 - labelWidth) / max(1, k)))
    return (
      labelWidth, cellWidth, ClassNames.fitted(names, width: labelWidth - 3),
      ClassNames.fitted(names, width: cellWidth - 1)
    )
  }

  /// Draws a confusion matrix with a shaded background per cell (darker to lighter with the
  /// count) and the count written in every cell, so it reads without colour; returns the
  /// next free row.
  static func heatmap(_ m: ConfusionMatrix, _ s: AppState, row: Int, _ f: inout Frame) -> Int {
    var y = row
    let k = m.k
    let (labelWidth, cellWidth, rowNames, columnNames) = heatmapLayout(s, k: k)
    let maxCount = max(1, m.counts.max() ?? 1)
    guard y < s.rows - 1 else { return y }
    var col = labelWidth
    for j in 0..<k where j < columnNames.count {
      let name = columnNames[j]
      f.put(
        String(repeating: " ", count: max(0, cellWidth - 1 - TextWidth.of(name))) + name + " ", row: y,
        column: col, style: Style(.classLabel(j), [.bold]))
      col += cellWidth
    }
    y += 1
    for i in 0..<k where y < s.rows - 1 && i < rowNames.count {
      f.put(
        "  " + TextWidth.padded(rowNames[i], to: labelWidth - 2), row: y, column: 0,
        style: Style(.classLabel(i), [.bold]), width: labelWidth)
      for j in 0..<k {
        let n = m[i, j]
        let text = String(repeating: " ", count: max(0, cellWidth - 1 - String(n).count)) + "\(n) "
        f.put(
          text, row: y, column: labelWidth + j * cellWidth,
          style: heatmapCellStyle(n, maxCount: maxCount, diagonal: i == j))
      }
      y += 1
    }
    let names = s.schema.classNames.prefix(k).map { Sanitizer.sanitize($0) }
    let short = [ClassNames.legend(names, shown: rowNames), ClassNames.legend(names, shown: columnNames)]
      .compactMap { $0 }
    if let legend = short.last, y < s.rows - 1 {
      for part in wrapped("  " + legend, width: s.columns - 1) where y < s.rows - 1 {
        f.put(
          part.hasPrefix(" ") ? part : "  " + part, row: y, column: 0, style: Style(.dim), width: s.columns)
        y += 1
      }
    }
    return y
  }

  /// A heatmap cell: a count on its shade in black or white, whichever contrasts more (issue
  /// 18: cyan-under-white digits were hard to read), and zero as plain text, not dimmed (the
  /// zero cells were hard to read too). Both are text: the renderer keeps 4.5:1.
  static func heatmapCellStyle(_ n: Int, maxCount: Int, diagonal: Bool) -> Style {
    var style = Style(.text, diagonal ? [.bold] : [])
    guard n > 0 else { return style }
    let fill = shade(Double(n) / Double(max(1, maxCount)))
    guard case .rgb(let r, let g, let b) = fill else { return style }
    let behind = RGB(r, g, b)
    style.background = fill
    style.foreground =
      Contrast.ratio(.black, behind) >= Contrast.ratio(.white, behind) ? .rgb(0, 0, 0) : .rgb(255, 255, 255)
    return style
  }

  /// A sequential blue-to-yellow scale (readable for the common colour-vision deficiencies).
  static func shade(_ t: Double) -> Color {
    let stops: [(Double, Double, Double)] = [(35, 45, 90), (40, 110, 160), (120, 190, 150), (250, 230, 110)]
    let x = max(0, min(1, t)) * Double(stops.count - 1)
    let i = min(stops.count - 2, Int(x))
    let u = x - Double(i)
    func mix(_ a: Double, _ b: Double) -> UInt8 { UInt8((a + (b - a) * u).rounded()) }
    return .rgb(
      mix(stops[i].0, stops[i + 1].0), mix(stops[i].1, stops[i + 1].1), mix(stops[i].2, stops[i + 1].2))
  }
}
