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

  /// A y-axis value in 7 columns, with as many decimals as the plot's range needs.
  func axisValue(_ v: Double) -> String {
    let range = high - low
    let format = range >= 1000 ? "%7.0f" : range >= 10 ? "%7.1f" : "%7.3f"
    return String(format: format, v)
  }

  /// The points (indices of `count`) that get an x tick label, spread so that labels of up to
  /// `labelWidth` characters stay a column apart: every `step`th point from the first, with
  /// `step` the smallest of 1, 2, 5, 10, 20, 50, … that leaves room; the last point too when it
  /// has room.
  public static func tickIndices(count: Int, width: Int, labelWidth: Int) -> [Int] {
    guard count > 1 else { return count == 1 ? [0] : [] }
    let perPoint = Double(width - 1) / Double(count - 1)
    // 1, 2, 5, 10, 20, 50, …
    var k = 0
    func step(_ k: Int) -> Int { [1, 2, 5][k % 3] * Int(pow(10, Double(k / 3))) }
    while Double(step(k)) * perPoint < Double(labelWidth + 1) && step(k) < count { k += 1 }
    let step = step(k)
    var out = Array(stride(from: 0, to: count, by: step))
    if let last = out.last, last != count - 1, Double(count - 1 - last) * perPoint >= Double(labelWidth + 1) {
      out.append(count - 1)
    }
    return out
  }

  /// Draws the plot with labelled axes into `rect` (issue 18, item 5: the curves had no axes a
  /// reader could use). The first row names the y quantity; the y axis has its top, middle
  /// and bottom values; below the plot an x axis with a tick and a label at the epochs in
  /// `xLabels` (one per point, e.g. the epoch numbers), and the x quantity's name in the
  /// axis margin. Needs 5 rows: the name, 2 plot rows, the axis and its labels.
  public func drawLabelled(
    into f: inout Frame, rect: CellRect, yName: String, xName: String = "epoch", xLabels: [String],
    axisStyle: Style = Style(.dim)
  ) {
    guard rect.rows >= 5, rect.columns > 12 else { return }
    let axis = 8
    let width = rect.columns - axis
    let height = rect.rows - 3
    let top = rect.row + 1
    f.put(yName, row: rect.row, column: rect.column, style: axisStyle, maxWidth: rect.columns)
    var labelled: [Int: Double] = [0: high, height - 1: low]
    if height >= 5 {
      let mid = (height - 1) / 2
      labelled[mid] = high - (high - low) * Double(mid) / Double(height - 1)
    }
    for r in 0..<height {
      if let v = labelled[r] {
        f.put(axisValue(v), row: top + r, column: rect.column, style: axisStyle)
        f.put("┤", row: top + r, column: rect.column + axis - 1, style: axisStyle)
      } else {
        f.put("│", row: top + r, column: rect.column + axis - 1, style: axisStyle)
      }
    }
    let count = max(series.map(\.values.count).max() ?? 0, xLabels.count)
    let labelWidth = xLabels.map { TextWidth.of($0) }.max() ?? 1
    let ticks = TextPlot.tickIndices(count: count, width: width, labelWidth: labelWidth)
    let axisRow = top + height
    var line = Array(repeating: "─", count: width)
    var labels = Array(repeating: " ", count: width)
    for i in ticks {
      let c = cell(index: i, count: count, value: low, width: width, height: height).column
      line[c] = "┬"
      let text = i < xLabels.count ? xLabels[i] : "\(i + 1)"
      // Centred on the tick, kept inside the plot's width.
      let start = max(0, min(width - text.count, c - (text.count - 1) / 2))
      for (k, ch) in text.enumerated() { labels[start + k] = String(ch) }
    }
    f.put("└" + line.joined(), row: axisRow, column: rect.column + axis - 1, style: axisStyle)
    f.put(
      String(repeating: " ", count: max(0, 7 - TextWidth.of(xName))) + xName, row: axisRow + 1,
      column: rect.column, style: axisStyle, maxWidth: 7)
    f.put(labels.joined(), row: axisRow + 1, column: rect.column + axis, style: axisStyle)
    for s in series {
      let points = s.values.enumerated().filter { $0.element.isFinite }
      for (i, v) in points {
        let c = cell(index: i, count: count, value: v, width: width, height: height)
        f.put(String(s.glyph), row: top + c.row, column: rect.column + axis + c.column, style: s.style)
      }
    }
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
    // The legend line, then the plots: a y name row, at least 2 plot rows, the x axis and its
    // labels (issue 18, item 5: labelled axes, legible at 80 × 24).
    guard !curves.trainLoss.isEmpty, y + 6 < s.rows - 1 else {
      if curves.trainLoss.isEmpty {
        line("No training curves (not trained by a retraining job)", Style(.dim))
      }
      return
    }
    let plotRows = s.rows - 1 - y - 1
    let half = (s.columns - 3) / 2
    // A stage with nothing to validate on draws no validation points and says why, in words,
    // not as a line of zeros.
    let validation = curves.missing.map { "(\($0))" } ?? "• validation"
    f.put("· train  \(validation)", row: y, column: 1, style: Style(.dim), maxWidth: half)
    f.put(
      "× validation \(curves.metricName)" + (curves.metric.contains { $0.isFinite } ? "" : ": none"), row: y,
      column: 2 + half, style: Style(.dim), maxWidth: half)
    y += 1
    let epochs = curves.epochs.map(String.init)
    let loss = TextPlot(series: [
      .init(name: "train loss", values: curves.trainLoss, glyph: "·", style: Style(.text)),
      .init(name: "validation loss", values: curves.valLoss, glyph: "•", style: Style(.accent)),
    ])
    loss.drawLabelled(
      into: &f, rect: CellRect(row: y, column: 1, rows: plotRows, columns: half), yName: "loss per epoch",
      xLabels: epochs)
    let metric = TextPlot(
      series: [.init(name: curves.metricName, values: curves.metric, glyph: "×", style: Style(.accent))],
      low: 0,
      high: 1)
    metric.drawLabelled(
      into: &f, rect: CellRect(row: y, column: 2 + half, rows: plotRows, columns: half),
      yName: "\(curves.metricName) (0–1) per epoch", xLabels: epochs)
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

  /// The per-epoch curves a retraining job stored in the version's metrics (`curves`), with
  /// each point's epoch number and, when a stage had nothing to validate on, why
  /// ("no validation masks").
  static func trainingCurves(_ m: ModelVersion) -> (
    trainLoss: [Double], valLoss: [Double], metric: [Double], metricName: String, epochs: [Int],
    missing: String?
  ) {
    guard case .array(let points)? = m.metrics["curves"] else { return ([], [], [], "metric", [], nil) }
    var t: [Double] = []
    var v: [Double] = []
    var x: [Double] = []
    var e: [Int] = []
    // A two-stage retraining's curves follow each other: classification's epochs (macro-F1),
    // then segmentation's (Dice).
    var names: [String] = []
    var missing: [String] = []
    for p in points {
      let metric = p["val_metric"]?.doubleValue
      // A validation loss without its metric was measured on nothing (curves stored before
      // `val_missing` existed: a segmentation stage with no validation masks logged 0).
      var why: String? = nil
      if case .string(let w)? = p["val_missing"] {
        why = w
      } else if p["val_loss"] != nil, metric == nil, case .string(let n)? = p["val_metric_name"] {
        why = n == "macro_f1" ? "no labelled validation cases" : "no validation masks"
      }
      t.append(p["train_loss"]?.doubleValue ?? .nan)
      v.append(why == nil ? p["val_loss"]?.doubleValue ?? .nan : .nan)
      x.append(metric ?? .nan)
      e.append(p["epoch"]?.doubleValue.map { Int($0) } ?? e.count + 1)
      if let why, !missing.contains(why) { missing.append(why) }
      if case .string(let n)? = p["val_metric_name"] {
        let name = n == "macro_f1" ? "macro-F1" : "Dice"
        if names.last != name { names.append(name) }
      }
    }
    return (
      t, v, x, names.isEmpty ? "metric" : names.joined(separator: " then "), e,
      missing.isEmpty ? nil : missing.joined(separator: "; ")
    )
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
