import CaseStore
import Foundation
import Imaging
import Terminal

/// A case as the adjudication screen needs it: every rater's current annotation (as the
/// adjudicator may see them) with their masks, and the model's prediction and mask.
public struct AdjudicationCase: Equatable, Sendable {
  public var detail: CaseDetail
  /// Masks by rater name.
  public var raterMasks: [String: Mask]
  public var modelMask: Mask?

  public init(detail: CaseDetail, raterMasks: [String: Mask], modelMask: Mask?) {
    self.detail = detail
    self.raterMasks = raterMasks
    self.modelMask = modelMask
  }

  /// The tiles side by side: the raters with a label or a mask (by name), then the model.
  public var tiles: [AdjudicationTile] {
    let raters = detail.current.filter { $0.label != nil || $0.maskID != nil }.sorted { $0.rater < $1.rater }
    var out = raters.map { AdjudicationTile.rater($0.rater) }
    if detail.prediction != nil { out.append(.model) }
    return out
  }
}

/// One column of the adjudication screen.
public enum AdjudicationTile: Equatable, Sendable {
  case rater(String)
  case model
}

/// The adjudication being written: the final label, the final mask and the reason.
public struct AdjudicationState: Equatable, Sendable {
  public enum FinalMask: Equatable, Sendable {
    case none
    case rater(String)
    case model
    /// Drawn or changed in the mask editor.
    case edited(Mask)
  }

  public var data: AdjudicationCase
  /// The triage item that led here (severity, reasons), when there is one.
  public var item: TriageItem?
  public var selection = 0
  public var label: String?
  public var finalMask: FinalMask = .none
  public var reason = LineEditor(limit: 500)
  /// The reason before typing started, restored by Esc.
  public var reasonBeforeTyping = LineEditor(limit: 500)
  /// Keys go to the reason line.
  public var typing = false
  /// The mask editor is open for the final mask.
  public var editingMask = false

  public init(_ data: AdjudicationCase, item: TriageItem? = nil) {
    self.data = data
    self.item = item
  }

  public var selectedTile: AdjudicationTile? {
    let tiles = data.tiles
    return tiles.indices.contains(selection) ? tiles[selection] : nil
  }

  /// The mask that would be recorded.
  public var maskToRecord: Mask? {
    switch finalMask {
    case .none: return nil
    case .rater(let r): return data.raterMasks[r]
    case .model: return data.modelMask
    case .edited(let m): return m
    }
  }
}

func adjudicationAction(_ s: inout AppState, _ action: Action) -> [Effect] {
  guard var a = s.adjudication else { return [] }
  let tiles = a.data.tiles
  let caseID = a.data.detail.record.id
  switch action {
  case .back:
    s.adjudication = nil
    s.screen = .triage
    s.status = StatusMessage("Case #\(caseID) not adjudicated; it stays in the queue")
    return []
  case .left: a.selection = max(0, a.selection - 1)
  case .right: a.selection = min(max(0, tiles.count - 1), a.selection + 1)
  case .setLabel(let key):
    guard let cls = s.schema.classForKey(key) else { return [] }
    a.label = cls.name
    s.status = StatusMessage("Final label: \(Sanitizer.sanitize(cls.name))")
  case .session(.takeMask):
    switch a.selectedTile {
    case .rater(let r)?:
      guard a.data.raterMasks[r] != nil else {
        s.status = StatusMessage("\(Sanitizer.sanitize(r)) drew no mask for this case", .error)
        return []
      }
      a.finalMask = .rater(r)
      s.status = StatusMessage("Final mask: \(Sanitizer.sanitize(r))'s")
    case .model?:
      guard a.data.modelMask != nil else {
        s.status = StatusMessage("The model has no mask for this case", .error)
        return []
      }
      a.finalMask = .model
      s.status = StatusMessage("Final mask: the model's")
    case nil:
      s.status = StatusMessage("No rater or model mask to take", .error)
      return []
    }
  case .session(.noFinalMask):
    a.finalMask = .none
    s.status = StatusMessage("No final mask: the adjudication records the label only")
  case .session(.editFinalMask):
    // The editor starts from the chosen mask (or an empty one); its edits stay in the
    // adjudication until it is recorded.
    let r = a.data.detail.record
    var start = a.maskToRecord ?? Mask(width: r.width, height: r.height)
    if start.width != r.width || start.height != r.height {
      start = start.resized(width: r.width, height: r.height)
    }
    a.editingMask = true
    s.adjudication = a
    var editor = MaskEditor(caseID: caseID, mask: start)
    editor.start = .adjudication
    s.editor = editor
    s.modelMask = a.data.modelMask
    s.referenceMask = nil
    s.detail = a.data.detail
    s.screen = .maskEditor
    s.status = StatusMessage("Editing the adjudication's mask: edits are kept with it; Esc returns")
    return []
  case .session(.editReason):
    a.reasonBeforeTyping = a.reason
    a.typing = true
    s.status = StatusMessage("Type the reason; Enter keeps it, Esc restores it")
  case .session(.record):
    guard s.role == .adjudicator else {
      s.status = StatusMessage(adjudicatorRefusal(s), .error)
      return []
    }
    guard let label = a.label else {
      s.status = StatusMessage(
        "Choose the final label first (\(s.schema.classes.map(\.key).joined(separator: "/")))", .error)
      return []
    }
    let reason = a.reason.text.trimmingCharacters(in: .whitespaces)
    guard !reason.isEmpty else {
      s.status = StatusMessage("An adjudication needs a reason: press r and type it", .error)
      return []
    }
    s.adjudication = a
    return [.sessions(.adjudicate(caseID: caseID, label: label, mask: a.maskToRecord, reason: reason))]
  default:
    return []
  }
  s.adjudication = a
  return []
}

/// The refusal a rater without the adjudicator role gets.
func adjudicatorRefusal(_ s: AppState) -> String {
  let me = Sanitizer.sanitize(s.rater)
  return
    "Refused: only adjudicators adjudicate; \(me) is a \(s.role.rawValue) ("
    + View.command(s, ["rater", "set-role"], [s.rater, "adjudicator"]) + ")"
}

extension View {
  /// The adjudication screen's tile rectangles (image part), one per rater and the model.
  /// The image rectangles are as tall as the image fitted to the column's width needs, so
  /// the captions sit right under the images.
  static func adjudicationTileRects(_ s: AppState, count: Int, imageWidth: Int, imageHeight: Int)
    -> [CellRect]
  {
    guard count > 0 else { return [] }
    let top = 2
    let bottomLines = 7  // two caption lines, the label, mask and reason lines, help, status
    let width = min(40, max(12, (s.columns - 1) / count))
    let fitted = Int(
      (Double(width - 1) * Double(s.cellWidth) * Double(max(1, imageHeight))
        / (Double(max(1, imageWidth)) * Double(s.cellHeight))).rounded(.up))
    // Without graphics there is no image: the captions follow the title.
    let rows = s.graphics ? max(3, min(fitted, s.rows - top - bottomLines)) : 0
    return (0..<count).map { CellRect(row: top, column: $0 * width, rows: rows, columns: width - 1) }
  }

  static func adjudication(_ s: AppState, _ images: CaseImages, _ f: inout Frame) {
    guard let a = s.adjudication else { return }
    let d = a.data.detail
    let r = d.record
    let name = Sanitizer.sanitize((r.path as NSString).lastPathComponent)
    var title = " Adjudicate case #\(r.id) · \(name)"
    if let item = a.item { title += " · \(item.severity.phrase): \(item.reasons)" }
    if !s.zoom.isFitted { title += " · zoom \(s.zoom.level)× (z whole image)" }
    f.put(title, row: 1, column: 0, style: Style(.title), width: s.columns)
    let tiles = a.data.tiles
    let rects = adjudicationTileRects(s, count: tiles.count, imageWidth: r.width, imageHeight: r.height)
    var y = 2
    if tiles.isEmpty {
      f.put(
        " No rater has labelled this case and there is no prediction.", row: 2, column: 0, style: Style(.dim))
      y = 3
    }
    for (i, tile) in tiles.enumerated() {
      let rect = rects[i]
      let selected = i == a.selection
      let mask: Mask?
      let maskID: Int64?
      let colour: [UInt8]
      var caption1: String
      var captionStyle = selected ? Style(.selection) : Style(.text)
      switch tile {
      case .rater(let rater):
        let ann = d.current.first { $0.rater == rater }
        mask = a.data.raterMasks[rater]
        maskID = ann?.maskID
        colour = rater == s.rater ? s.overlayColours.myMask : s.overlayColours.otherMask
        caption1 = "\(Sanitizer.sanitize(rater)): \(ann?.label.map { labelName($0) } ?? "no label")"
        if !selected, let label = ann?.label { captionStyle = classStyle(label, s.schema) }
      case .model:
        let p = d.prediction!
        mask = a.data.modelMask
        maskID = p.maskID
        colour = s.overlayColours.modelMask
        caption1 =
          "model v\(p.modelVersion): \(p.label) \(String(format: "%.2f", p.confidence))"
        if !selected { captionStyle = classStyle(p.label, s.schema) }
      }
      let imageRect = CellRect(row: rect.row, column: rect.column, rows: rect.rows, columns: rect.columns)
      if s.graphics {
        let layers = mask.map { [OverlayLayer(mask: $0, colour: colour, style: s.maskStyle)] } ?? []
        let key = "adj:\(r.id)|" + (maskID.map { "m\($0)" } ?? "none") + s.maskStyle.keySuffix
        f.place(
          zoomed(
            ImagePlacement(
              key: key, rect: imageRect,
              source: images.overlaid(
                s.pictures.caseImage(at: r.imagePath), path: r.imagePath, width: r.width, height: r.height,
                layers: layers)), s, width: r.width, height: r.height))
      }
      let captionRow = rect.bottom
      f.put(
        (selected ? "▶" : " ") + caption1, row: captionRow, column: rect.column, style: captionStyle,
        width: rect.columns)
      let pixels = mask.map { m in m.values.reduce(0) { $0 + ($1 >= 128 ? 1 : 0) } }
      let taken: Bool
      switch (a.finalMask, tile) {
      case (.rater(let x), .rater(let y)): taken = x == y
      case (.model, .model): taken = true
      default: taken = false
      }
      f.put(
        " " + (pixels.map { "mask \($0) px" } ?? "no mask") + (taken ? " ✓ taken" : ""), row: captionRow + 1,
        column: rect.column, style: taken ? Style(.accent, [.bold]) : Style(.dim), width: rect.columns)
      y = captionRow + 2
    }
    y = max(y, (rects.first?.bottom ?? 2) + 2)
    func line(_ text: String, _ style: Style = Style(.text)) {
      guard y < s.rows - 1 else { return }
      f.put(text, row: y, column: 0, style: style, width: s.columns)
      y += 1
    }
    let keys = s.schema.classes.map(\.key).joined(separator: "/")
    if let label = a.label {
      var col = f.put(" Final label: ", row: y, column: 0)
      col += f.put(
        labelName(label), row: y, column: col, style: classStyle(label, s.schema))
      f.put("   (\(keys) change it)", row: y, column: col, style: Style(.dim))
      y += 1
    } else {
      line(" Final label: not chosen (\(keys))", Style(.warning))
    }
    let maskText: String
    switch a.finalMask {
    case .none: maskText = "none"
    case .rater(let r): maskText = "\(Sanitizer.sanitize(r))'s"
    case .model: maskText = "the model's"
    case .edited(let m): maskText = "edited here (\(m.values.filter { $0 >= 128 }.count) px)"
    }
    line(" Final mask: \(maskText)   (←/→ column · t take its mask · m edit · x none)")
    let prefix = " Reason: "
    let room = max(4, s.columns - TextWidth.of(prefix) - 1)
    let shown = a.reason.visible(width: room)
    if y < s.rows - 1 {
      let col = f.put(prefix, row: y, column: 0, style: a.typing ? Style(.accent) : Style(.text))
      if a.reason.text.isEmpty && !a.typing {
        f.put("(r types it; required)", row: y, column: col, style: Style(.dim))
      } else {
        f.put(shown.text, row: y, column: col, width: room)
        if a.typing {
          let cursorColumn = col + shown.cursorColumn
          f.restyle(CellRect(row: y, column: cursorColumn, rows: 1, columns: 1), style: Style(.cursor))
        }
      }
      y += 1
    }
    line(
      a.typing
        ? " Typing: Enter keeps the reason · Esc restores it · Ctrl-U/Ctrl-K/Ctrl-W delete"
        : " Enter records the adjudication · Esc back to the queue", Style(.dim))
  }
}
