import CaseStore
import Foundation
import Terminal

/// A line plot in text cells: each series' points spread over `width` columns, scaled to
/// `height` rows between `low` and `high` (top row = high); one glyph per point, later series
/// drawn over earlier ones. Pure, so the model screen's curves are tested as text.
public struct TextPlot: Equatable, Sendable {
  public struct Series: Equatable, Sendable {
    public var name: String
    public var values: [Double]
    public var glyph: Character
    public var style: Style
    public init(name: String, values: [Double], glyph: Character, style: Style) {
      self.name = name
      self.values = values
      self.glyph = glyph
      self.style = style
    }
  }

  public var series: [Series]
  public var low: Double
  public var high: Double

  /// Scaled to the finite values of every series (a flat range is widened so it shows).
  public init(series: [Series], low: Double? = nil, high: Double? = nil) {
    self.series = series
    let all = series.flatMap(\.values).filter(\.isFinite)
    var lo = low ?? all.min() ?? 0
    var hi = high ?? all.max() ?? 1
    if hi - lo < 1e-9 {
      lo -= 0.5
      hi += 0.5
    }
    self.low = lo
    self.high = hi
  }

  /// The cell (row from the top, column) of point `i` of `n` with value `v`.
  public func cell(index i: Int, count n: Int, value v: Double, width: Int, height: Int) -> (
    row: Int, column: Int
  ) {
    let column = n <= 1 ? 0 : Int((Double(i) * Double(width - 1) / Double(n - 1)).rounded())
    let t = (v - low) / (high - low)
    let row = height - 1 - Int((min(max(t, 0), 1) * Double(height - 1)).rounded())
    return (row, column)
  }

  /// Draws the plot with a y axis (high and low labels, 7 columns) into `rect`.
  public func draw(into f: inout Frame, rect: CellRect, axisStyle: Style = Style(.dim)) {
    guard rect.rows >= 2, rect.columns > 10 else { return }
    let axis = 8
    let width = rect.columns - axis
    let height = rect.rows
    f.put(String(format: "%7.3f", high), row: rect.row, column: rect.column, style: axisStyle)
    f.put(String(format: "%7.3f", low), row: rect.row + height - 1, column: rect.column, style: axisStyle)
    for r in 0..<height { f.put("┤", row: rect.row + r, column: rect.column + axis - 1, style: axisStyle) }
    for s in series {
      let points = s.values.enumerated().filter { $0.element.isFinite }
      for (i, v) in points {
        let c = cell(index: i, count: s.values.count, value: v, width: width, height: height)
        f.put(String(s.glyph), row: rect.row + c.row, column: rect.column + axis + c.column, style: s.style)
      }
    }
  }
}

extension View {
  /// The model screen: the registry's versions with their metrics, the selected version's
  /// lineage, frozen-tensor check, gate verdict and training curves, and the promote and roll
  /// back keys.
  static func modelScreen(_ s: AppState, _ f: inout Frame) {
    let r = s.retrain
    let tol = String(format: "%.2f", CaseStore.retrainGateTolerance)
    let lossTol = Int((CaseStore.retrainGateLossTolerance * 100).rounded())
    f.put(
      " Models · promoted \(s.modelVersion.map { "v\($0)" } ?? "none") · gate: F1, Dice ≥ promoted − \(tol), loss ≤ +\(lossTol)%",
      row: 1, column: 0, style: Style(.dim), width: s.columns)
    guard r.loaded else {
      f.put(" Loading…", row: 3, column: 0, style: Style(.dim))
      return
    }
    guard !r.models.isEmpty else {
      f.put(
        " No model in the registry yet ("
          + View.command(s, ["predict"], ["--all-cases"], placeholders: "--model FILE") + " registers one).",
        row: 3,
        column: 0, style: Style(.dim))
      return
    }
    let heading =
      " " + modelColumns(["ver", "parent", "trained", "frozen", "macro-F1", "Dice", "time", "state"])
    f.put(heading, row: 2, column: 0, style: Style(.dim, [.underline]), width: s.columns)
    let listRows = max(3, min(r.models.count, (s.rows - 4) / 2 - 1))
    let first = max(0, min(r.selection - listRows / 2, r.models.count - listRows))
    for (line, i) in (first..<min(r.models.count, first + listRows)).enumerated() {
      let m = r.models[i]
      let selected = i == r.selection
      f.put(
        modelRow(m, selected: selected), row: 3 + line, column: 0,
        style: selected ? Style(.selection) : (m.isPromoted ? Style(.accent) : Style(.text)), width: s.columns
      )
    }
    guard let m = r.selected else { return }
    var y = 3 + listRows + 1
    func line(_ text: String, _ style: Style = Style(.text)) {
      guard y < s.rows - 1 else { return }
      f.put(text, row: y, column: 1, style: style, width: s.columns - 2)
      y += 1
    }
    line("v\(m.version)" + (m.isPromoted ? " (promoted)" : "") + lineage(m), Style(.title))
    line(frozenLine(m), m.frozenVerified == false ? Style(.warning) : Style(.text))
    if let g = gateLine(m) {
      line(
        Sanitizer.sanitize(g),
        g.hasPrefix("gate failed") || g.hasPrefix("not promoted") ? Style(.warning) : Style(.text))
    }
    let curves = trainingCurves(m)
    guard !curves.trainLoss.isEmpty, y + 4 < s.rows - 1 else {
      if curves.trainLoss.isEmpty {
        line("No training curves (not trained by a retraining job)", Style(.dim))
      }
      return
    }
    let plotRows = s.rows - 1 - y - 1
    let half = (s.columns - 3) / 2
    f.put("loss per epoch: · train  • validation", row: y, column: 1, style: Style(.dim), maxWidth: half)
    f.put(
      "validation \(curves.metricName) per epoch: ×", row: y, column: 2 + half, style: Style(.dim),
      maxWidth: half)
    y += 1
    let loss = TextPlot(series: [
      .init(name: "train loss", values: curves.trainLoss, glyph: "·", style: Style(.text)),
      .init(name: "validation loss", values: curves.valLoss, glyph: "•", style: Style(.accent)),
    ])
    loss.draw(into: &f, rect: CellRect(row: y, column: 1, rows: plotRows, columns: half))
    let metric = TextPlot(
      series: [.init(name: curves.metricName, values: curves.metric, glyph: "×", style: Style(.accent))],
      low: 0,
      high: 1)
    metric.draw(into: &f, rect: CellRect(row: y, column: 2 + half, rows: plotRows, columns: half))
  }

  /// One version as a row of the list.
  static func modelRow(_ m: ModelVersion, selected: Bool) -> String {
    func short(_ tasks: [String]) -> String {
      tasks.isEmpty
        ? "—"
        : tasks.map { $0 == "classification" ? "cls" : $0 == "segmentation" ? "seg" : $0 }.joined(
          separator: ",")
    }
    let f1 = m.metrics["macro_f1"]?.doubleValue.map { String(format: "%.3f", $0) } ?? "—"
    let dice = m.metrics["dice"]?.doubleValue.map { String(format: "%.3f", $0) } ?? "—"
    let time = m.metrics["training_seconds"]?.doubleValue.map(durationText) ?? "—"
    let verified = m.frozenVerified.map { $0 ? " ✓" : " ✗" } ?? ""
    let state =
      m.isPromoted
      ? "promoted"
      : m.promotedAt != nil
        ? "was promoted" : (gateLine(m)?.hasPrefix("gate failed") == true ? "gate failed" : "")
    return (selected ? "▶" : " ")
      + modelColumns([
        "v\(m.version)", m.parent.map { "v\($0)" } ?? "—", short(m.trainedTasks),
        (m.frozenTasks.isEmpty && m.trainedTasks.count > 1 ? "per stage" : short(m.frozenTasks)) + verified,
        f1,
        dice, time, state,
      ])
  }

  /// The list's columns, padded to their widths (the heading and the rows share them).
  static func modelColumns(_ fields: [String]) -> String {
    let widths = [6, 7, 9, 11, 10, 8, 9]
    return " "
      + fields.enumerated().map { i, text in i < widths.count ? TextWidth.padded(text, to: widths[i]) : text }
      .joined()
  }

  static func lineage(_ m: ModelVersion) -> String {
    var parts: [String] = []
    if let p = m.parent { parts.append("from v\(p)") }
    if let j = m.trainingJobID { parts.append("job \(j)") }
    if !m.trainedTasks.isEmpty { parts.append("trained \(m.trainedTasks.joined(separator: " then "))") }
    if let t = m.metrics["training_seconds"]?.doubleValue { parts.append("in \(durationText(t))") }
    return parts.isEmpty ? "" : " · " + parts.joined(separator: " · ")
  }

  static func frozenLine(_ m: ModelVersion) -> String {
    guard !m.frozenTasks.isEmpty || m.frozenVerified != nil else {
      return m.trainedTasks.count > 1
        ? "each task trained with the other frozen"
          + (m.frozenVerified == true ? " (frozen tensors verified byte-identical)" : "")
        : "nothing frozen"
    }
    let verified: String
    switch m.frozenVerified {
    case true?: verified = "verified byte-identical to v\(m.parent ?? 0)"
    case false?: verified = "CHANGED: not byte-identical to the parent"
    case nil: verified = "not checked"
    }
    return
      "frozen: \(m.frozenTasks.isEmpty ? "per stage" : m.frozenTasks.joined(separator: ", ")) · \(verified)"
  }

  /// The per-epoch curves a retraining job stored in the version's metrics (`curves`).
  static func trainingCurves(_ m: ModelVersion) -> (
    trainLoss: [Double], valLoss: [Double], metric: [Double], metricName: String
  ) {
    guard case .array(let points)? = m.metrics["curves"] else { return ([], [], [], "metric") }
    var t: [Double] = []
    var v: [Double] = []
    var x: [Double] = []
    // A two-stage retraining's curves follow each other: classification's epochs (macro-F1),
    // then segmentation's (Dice).
    var names: [String] = []
    for p in points {
      t.append(p["train_loss"]?.doubleValue ?? .nan)
      v.append(p["val_loss"]?.doubleValue ?? .nan)
      x.append(p["val_metric"]?.doubleValue ?? .nan)
      if case .string(let n)? = p["val_metric_name"] {
        let name = n == "macro_f1" ? "macro-F1" : "Dice"
        if names.last != name { names.append(name) }
      }
    }
    return (t, v, x, names.isEmpty ? "metric" : names.joined(separator: " then "))
  }

  /// The running job on the status line's right end: "training v3: cls epoch 2/10 · batch 14/80 ·
  /// loss 0.412 · ETA 3:10"; nil when no job is active.
  public static func retrainStatusText(_ s: AppState) -> String? {
    guard let job = s.retrain.job, job.status.isActive else { return nil }
    if job.status == .queued { return "⟳ job \(job.id) queued" }
    let from = job.parentModel.map { " v\($0)" } ?? ""
    let full = "⟳ training\(from): \(jobProgressText(job))"
    // Up to two thirds of the line: the screen's key hints keep the left third.
    return TextWidth.of(full) + 2 <= statusItemWidth(s) ? full : "⟳ " + jobProgressText(job, compact: true)
  }

  static func statusItemWidth(_ s: AppState) -> Int { max(0, s.columns * 2 / 3) }

  static func retrainStatusItem(_ s: AppState, _ f: inout Frame) {
    statusItem(retrainStatusText(s), s, &f)
  }

  /// Background work's progress at the status line's right end, in at most two thirds of it.
  static func statusItem(_ text: String?, _ s: AppState, _ f: inout Frame) {
    guard let text else { return }
    let item = " " + text + " "
    let width = min(TextWidth.of(item), statusItemWidth(s))
    guard width > 4 else { return }
    f.put(item, row: s.rows - 1, column: s.columns - width, style: Style(.accent), width: width)
  }
}
