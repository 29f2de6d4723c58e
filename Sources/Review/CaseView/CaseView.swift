import CaseStore
import Foundation
import Terminal

/// The case view: the image (with overlays and explanations) and the panel beside it.
extension View {
  static func panelWidth(_ s: AppState) -> Int { max(36, min(60, s.columns * 2 / 5)) }

  /// Where the case view and the mask editor draw the case image.
  public static func caseImageRect(_ s: AppState) -> CellRect {
    CellRect(row: 1, column: 0, rows: s.rows - 2, columns: s.columns - panelWidth(s) - 1)
  }

  static func caseView(_ s: AppState, _ images: CaseImages, _ f: inout Frame) {
    guard let d = s.detail else { return }
    let r = d.record
    let panelWidth = panelWidth(s)
    let imageRect = caseImageRect(s)
    let imageColumns = imageRect.columns
    if let problem = d.imageProblem {
      imageProblem(problem, rect: imageRect, &f)
    } else if s.graphics {
      f.place(
        zoomed(explainedImagePlacement(s, d, rect: imageRect, images), s, width: r.width, height: r.height))
    } else {
      f.put(" (graphics off: \(r.width) × \(r.height) image)", row: 2, column: 0, style: Style(.dim))
    }
    let x = imageColumns + 1
    var y = 1
    // The panel's lines wrap at word boundaries, continued with an indent (issue 18, item 10:
    // at 80 × 24 "hidden until you labe…" was cut); only a file name is shortened, with "…".
    func line(_ text: String, _ style: Style = Style(.text)) {
      for (i, part) in wrapped(text, width: panelWidth - 2).enumerated() {
        guard y < s.rows - 1 else { return }
        f.put((i > 0 ? "  " : "") + part, row: y, column: x, style: style, width: panelWidth)
        y += 1
      }
    }
    line("Case #\(r.id)", Style(.title))
    if y < s.rows - 1 {
      f.put(Sanitizer.sanitize((r.path as NSString).lastPathComponent), row: y, column: x, width: panelWidth)
      y += 1
    }
    line(
      "\(r.split.rawValue) · \(r.width) × \(r.height) · reference \(r.referenceLabel.map { Sanitizer.sanitize($0) } ?? "—")",
      Style(.dim))
    if !s.zoom.isFitted {
      for part in zoomDescription(s, width: r.width, height: r.height) { line(part, Style(.accent)) }
    }
    y += 1
    if let p = d.prediction {
      line(
        "Model v\(p.modelVersion): \(labelName(p.label)) \(String(format: "%.2f", p.confidence))",
        Style(.title))
      // Issue 10: a warning beside the prediction, never a change of it.
      if p.colourUnusual == true {
        line("⚠ colour unlike the training data;", Style(.warning))
        line("  prediction less reliable", Style(.warning))
      }
      // "[1] neutrophil ████░░░ 0.19": the names whole in a column as wide as the widest (issue
      // 18: wbc5's were cut to "neutrop…"); the bar takes what is left, at least 6 cells. Only
      // a name too wide for that is shortened, by `ClassNames`' rule.
      let keyWidth = (s.schema.classes.map { TextWidth.of("[\($0.key)] ") }.max() ?? 4)
      let nameWidth = min(ClassNames.widest(s.schema), panelWidth - 2 - keyWidth - 1 - 6 - 5)
      let names = ClassNames.fitted(s.schema.classNames, width: nameWidth)
      let barWidth = max(6, panelWidth - 2 - keyWidth - nameWidth - 1 - 5)
      for (i, cls) in s.schema.classes.enumerated() where i < p.probabilities.count {
        let prob = p.probabilities[i]
        let filled = Int((prob * Double(barWidth)).rounded())
        guard y < s.rows - 1 else { break }
        var col = x
        col += f.put(
          TextWidth.padded("[\(cls.key)]", to: keyWidth), row: y, column: col, style: Style(.classLabel(i)))
        col += f.put(TextWidth.padded(Sanitizer.sanitize(names[i]), to: nameWidth + 1), row: y, column: col)
        col += f.put(String(repeating: "█", count: filled), row: y, column: col, style: Style(.classLabel(i)))
        col += f.put(
          String(repeating: "░", count: barWidth - filled), row: y, column: col, style: Style(.barEmpty))
        f.put(String(format: " %.2f", prob), row: y, column: col)
        y += 1
      }
      if let pm = p.pMalignant {
        line(String(format: "P(malignant) %.2f", pm))
        // Issue 17: the screening call, apart from the predicted class above.
        if let point = s.screening, point.modelVersion == p.modelVersion {
          if let t = point.threshold {
            if pm >= t {
              line("⚑ POSSIBLY MALIGNANT (screening)", Style(.warning))
              line(String(format: "  P(malignant) >= %.3g, the", t), Style(.warning))
              line("  operating point; whatever the class", Style(.warning))
            } else {
              line(String(format: "Screening: below %.3g", t), Style(.dim))
            }
          } else {
            line("Screening: no operating point", Style(.dim))
          }
        }
      }
      line("Nuclei detected: \(p.detections.count)")
    } else {
      line(d.modelHidden ? "Model hidden in this session" : "No prediction yet", Style(.dim))
      for cls in s.schema.classes {
        line(
          "[\(cls.key)] \(Sanitizer.sanitize(cls.name))",
          Style(.classLabel(s.schema.classes.firstIndex { $0.name == cls.name } ?? 0)))
      }
    }
    y += 1
    if let mine = d.mine?.label {
      line("My label: \(labelName(mine))", classStyle(mine, s.schema))
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
            + others.map { "\(Sanitizer.sanitize($0.rater)) \(Sanitizer.sanitize($0.label ?? "·"))" }.joined(
              separator: ", "))
    }
    // Issue 18: the final decision, its reason and who decided, to everyone blinding lets see it.
    if let a = d.adjudication {
      line(
        "Final: \(labelName(a.label)) · adjudicated by \(Sanitizer.sanitize(a.adjudicator))",
        classStyle(a.label, s.schema))
      for part in wrapped("Reason: " + Sanitizer.sanitize(a.reason), width: panelWidth - 2).prefix(3) {
        line("  " + part)
      }
    }
    y = overlayLegend(s, d, &f, column: x, row: y, width: panelWidth)
    y = explanationLegend(s, d, &f, column: x, row: y, width: panelWidth)
    y += 1
    line("History", Style(.title))
    let entries = historyEntries(s, d)
    for e in entries.sorted(by: { $0.date > $1.date }) {
      guard y < s.rows - 1 else { break }
      line(e.text, Style(.dim))
    }
  }

  /// A placement showing the part of the image in view (`Zoom`), keyed by it.
  static func zoomed(_ p: ImagePlacement, _ s: AppState, width: Int, height: Int) -> ImagePlacement {
    guard !s.zoom.isFitted else { return p }
    return ImagePlacement(
      key: p.key + s.zoom.key(width: width, height: height), rect: p.rect,
      source: s.zoom.apply(to: p.source, width: width, height: height))
  }

  /// The zoom for a panel: level, the part in view and screen pixels per image pixel.
  static func zoomDescription(_ s: AppState, width: Int, height: Int) -> [String] {
    let rect = caseImageRect(s)
    let v = s.zoom.visible(width: width, height: height)
    let fit = ImageFit.fit(
      sourceWidth: v.width, sourceHeight: v.height, columns: rect.columns, rows: rect.rows,
      cellWidth: s.cellWidth, cellHeight: s.cellHeight, backend: .sixel(colors: 2))
    return s.zoom.description(width: width, height: height, fit: fit)
  }

  /// The file is missing or no longer the case's image: say so, wrapped, where the image would be.
  private static func imageProblem(_ problem: String, rect imageRect: CellRect, _ f: inout Frame) {
    let imageColumns = imageRect.columns
    var row = imageRect.row + 1
    f.put(" The image cannot be shown:", row: row, column: 0, style: Style(.title), width: imageColumns)
    let words = Sanitizer.sanitize(problem).split(separator: " ")
    var current = " "
    for w in words {
      if current.count + w.count + 1 > max(10, imageColumns - 2) {
        row += 1
        f.put(current, row: row, column: 0, style: Style(.text), width: imageColumns)
        current = " "
      }
      current += (current == " " ? "" : " ") + w
    }
    f.put(current, row: row + 1, column: 0, style: Style(.text), width: imageColumns)
  }

  /// The case's annotations and adjudications as dated history lines (UTC), unsorted.
  private static func historyEntries(_ s: AppState, _ d: CaseDetail) -> [(date: Date, text: String)] {
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyy-MM-dd HH:mm"
    formatter.timeZone = TimeZone(identifier: "UTC")
    // Annotations and adjudications; the case view sorts them newest first.
    var entries: [(date: Date, text: String)] = s.history.map { a in
      let what = [
        a.label.map { labelName($0) },
        a.maskID.flatMap { id in
          a.changed.contains(.mask) ? s.maskPixels[id].map { "mask (\($0) px)" } ?? "mask" : nil
        },
      ]
      .compactMap { $0 }.joined(separator: " + ")
      return (
        a.createdAt,
        "\(formatter.string(from: a.createdAt)) \(Sanitizer.sanitize(a.rater)): \(what.isEmpty ? "cleared" : what)"
      )
    }
    for a in d.adjudications {
      entries.append(
        (
          a.createdAt,
          "\(formatter.string(from: a.createdAt)) \(Sanitizer.sanitize(a.adjudicator)): final \(labelName(a.label))"
            + (a.maskID != nil ? " + mask" : "")
        ))
    }
    return entries
  }
}
