import CaseStore
import Imaging

/// The nucleus-mask editor's state: a working mask, a cursor in image pixels, the brush, and
/// unbounded undo/redo for the visit. Pure value type; every finished edit (stroke, fill,
/// delete, accept, clear, undo, redo) is returned to `update`, which marks the visit changed
/// and saves the mask once, when the visit ends (issue 18: one editing visit is one history
/// entry, not one row per stroke, undo and redo).
public struct MaskEditor: Equatable, Sendable {
  public enum Tool: Equatable, Sendable { case paint, erase }

  /// The mask the visit started from, said on screen (issue 18: the editor opened empty until
  /// `a`; it now opens on my last mask, else the model's, else the reference, else empty).
  public enum Start: Equatable, Sendable {
    case mine
    case model(version: Int64?)
    case reference
    case empty
    /// The adjudication's chosen mask (the adjudication screen's editor).
    case adjudication

    public var description: String {
      switch self {
      case .mine: return "my last saved mask"
      case .model(let v): return "the model's mask" + (v.map { " (v\($0))" } ?? "")
      case .reference: return "the reference mask (imported)"
      case .empty: return "empty (no mask yet)"
      case .adjudication: return "the adjudication's mask"
      }
    }
  }

  public var start: Start = .empty
  /// True once the visit made an edit (or took the model's or reference mask as it is): the
  /// mask is saved when the visit ends.
  public var changedInVisit = false

  public let caseID: Int64
  public private(set) var mask: Mask
  public var cursorX: Int
  public var cursorY: Int
  public private(set) var radius = 4
  public var tool: Tool = .paint
  /// True between pen down and pen up (Space, or a mouse press and its release).
  public private(set) var strokeActive = false
  /// Masks before each finished edit (undo) and after undone ones (redo).
  public private(set) var undoStack: [Mask] = []
  public private(set) var redoStack: [Mask] = []
  /// Increases with every change of pixels or cursor, so each drawn state has its own key.
  public private(set) var revision = 0
  /// What each recent revision changed: the key it replaced and the pixels that differ, so a
  /// redraw can cover everything since whichever revision is on screen (several events may
  /// arrive between two frames). The newest last; at most `damageLogLimit` entries.
  public private(set) var damageLog: [DamageEntry] = []
  public static let damageLogLimit = 64

  public struct DamageEntry: Equatable, Sendable {
    public var since: String
    public var region: PixelRect
  }

  /// The pixels changed by the last operation, in image pixels.
  public var lastDamage: PixelRect? { damageLog.last?.region }
  /// The image key of the previous revision.
  public var previousKey: String? { damageLog.last?.since }

  /// For each earlier key in the log, the union of everything changed since it.
  public var damageSince: [(since: String, region: PixelRect)] {
    var out: [(String, PixelRect)] = []
    var region: PixelRect? = nil
    for entry in damageLog.reversed() {
      region = union(region, entry.region)
      out.append((entry.since, region!))
    }
    return out
  }
  private var strokeStart: Mask?
  /// The saved version this editor's next save continues (issue 15, item 11): the store
  /// merges the save into anything another editor of the same rater saved meanwhile.
  public var base = MaskEditBase(annotationID: nil, mask: nil)

  public static let radiusRange = 1...32

  public init(caseID: Int64, mask: Mask) {
    self.caseID = caseID
    self.mask = mask
    cursorX = mask.width / 2
    cursorY = mask.height / 2
  }

  public var width: Int { mask.width }
  public var height: Int { mask.height }

  /// The key of the image showing this state: changes whenever its pixels do.
  public var imageKey: String { "edit:\(caseID)|r\(revision)" }

  /// Nucleus pixels in the mask.
  public var nucleusPixels: Int { mask.values.reduce(0) { $0 + ($1 >= 128 ? 1 : 0) } }

  private mutating func changed(_ damage: PixelRect?) {
    let since = imageKey
    revision += 1
    // A change with no known extent (nil) makes earlier partial redraws impossible.
    guard let damage else {
      damageLog.removeAll()
      return
    }
    damageLog.append(DamageEntry(since: since, region: damage))
    if damageLog.count > MaskEditor.damageLogLimit { damageLog.removeFirst() }
  }

  /// The box of a brush dab (and the cursor ring) at (x, y).
  func dabRect(_ x: Int, _ y: Int) -> PixelRect {
    let r = radius + 1
    let x0 = max(0, x - r)
    let y0 = max(0, y - r)
    let x1 = min(width, x + r + 1)
    let y1 = min(height, y + r + 1)
    return PixelRect(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
  }

  /// Moves the cursor by (dx, dy) pixels, clamped to the image; with the pen down, paints (or
  /// erases) along the way.
  public mutating func move(dx: Int, dy: Int) {
    let old = (cursorX, cursorY)
    let nx = max(0, min(width - 1, cursorX + dx))
    let ny = max(0, min(height - 1, cursorY + dy))
    moveTo(x: nx, y: ny, from: old)
  }

  /// Puts the cursor at (x, y); with the pen down, paints the segment from where it was.
  public mutating func moveTo(x: Int, y: Int) { moveTo(x: x, y: y, from: (cursorX, cursorY)) }

  private mutating func moveTo(x: Int, y: Int, from old: (Int, Int)) {
    cursorX = max(0, min(width - 1, x))
    cursorY = max(0, min(height - 1, y))
    var damage = union(dabRect(old.0, old.1), dabRect(cursorX, cursorY))
    if strokeActive { damage = union(damage, paintSegment(from: old, to: (cursorX, cursorY))) }
    changed(damage)
  }

  /// Pen down: the stroke starts with a dab at the cursor.
  public mutating func penDown() {
    guard !strokeActive else { return }
    strokeStart = mask
    strokeActive = true
    changed(paintSegment(from: (cursorX, cursorY), to: (cursorX, cursorY)))
  }

  /// Pen up: the stroke ends. Returns the mask to save, or nil if the stroke changed nothing.
  public mutating func penUp() -> Mask? {
    guard strokeActive, let start = strokeStart else { return nil }
    strokeActive = false
    strokeStart = nil
    guard start != mask else { return nil }
    undoStack.append(start)
    redoStack.removeAll()
    return mask
  }

  public mutating func setRadius(_ r: Int) {
    radius = max(MaskEditor.radiusRange.lowerBound, min(MaskEditor.radiusRange.upperBound, r))
    changed(dabRect(cursorX, cursorY))
  }

  /// Paints (or erases) discs along the segment; returns the box of what it touched.
  private mutating func paintSegment(from a: (Int, Int), to b: (Int, Int)) -> PixelRect {
    let value: UInt8 = tool == .paint ? 255 : 0
    let steps = max(abs(b.0 - a.0), abs(b.1 - a.1), 1)
    let r2 = radius * radius
    var box: PixelRect? = nil
    for i in 0...steps {
      let cx = a.0 + (b.0 - a.0) * i / steps
      let cy = a.1 + (b.1 - a.1) * i / steps
      for y in max(0, cy - radius)...min(height - 1, cy + radius) {
        for x in max(0, cx - radius)...min(width - 1, cx + radius) {
          let dx = x - cx
          let dy = y - cy
          if dx * dx + dy * dy <= r2 { mask[x, y] = value }
        }
      }
      box = union(box, dabRect(cx, cy))
    }
    return box ?? dabRect(a.0, a.1)
  }

  /// Replaces the whole mask as one undoable edit (accept the model's, clear, fill, delete).
  /// Returns the mask to save, or nil if nothing changed.
  public mutating func replace(with newMask: Mask) -> Mask? {
    guard newMask != mask, newMask.width == width, newMask.height == height else { return nil }
    let damage = difference(mask, newMask)
    undoStack.append(mask)
    redoStack.removeAll()
    mask = newMask
    changed(damage)
    return mask
  }

  /// Takes a mask the store saved after merging this editor's edit with one saved elsewhere,
  /// as an undoable change (undo goes back to this editor's own state), without a new save.
  public mutating func adoptMerged(_ merged: Mask) {
    guard merged != mask, merged.width == width, merged.height == height, !strokeActive else { return }
    let damage = difference(mask, merged)
    undoStack.append(mask)
    redoStack.removeAll()
    mask = merged
    changed(damage)
  }

  /// Fills the background region (4-connected) around the cursor with nucleus.
  public mutating func floodFill() -> Mask? {
    guard mask[cursorX, cursorY] < 128 else { return nil }
    var filled = mask
    var stack = [(cursorX, cursorY)]
    filled[cursorX, cursorY] = 255
    while let (x, y) = stack.popLast() {
      for (nx, ny) in [(x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)]
      where nx >= 0 && ny >= 0 && nx < width && ny < height && filled[nx, ny] < 128 {
        filled[nx, ny] = 255
        stack.append((nx, ny))
      }
    }
    return replace(with: filled)
  }

  /// Deletes the nucleus (8-connected component) under the cursor.
  public mutating func deleteComponent() -> Mask? {
    let components = mask.connectedComponents(connectivity: .eight, threshold: 128)
    let label = components.labels[cursorY * width + cursorX]
    guard label > 0 else { return nil }
    var out = mask
    for i in 0..<out.values.count where components.labels[i] == label { out.values[i] = 0 }
    return replace(with: out)
  }

  public mutating func undo() -> Mask? {
    guard !strokeActive, let previous = undoStack.popLast() else { return nil }
    redoStack.append(mask)
    let damage = difference(mask, previous)
    mask = previous
    changed(damage)
    return mask
  }

  public mutating func redo() -> Mask? {
    guard !strokeActive, let next = redoStack.popLast() else { return nil }
    undoStack.append(mask)
    let damage = difference(mask, next)
    mask = next
    changed(damage)
    return mask
  }

  /// The bounding box of the pixels that differ (nil when none).
  func difference(_ a: Mask, _ b: Mask) -> PixelRect? {
    var x0 = Int.max
    var y0 = Int.max
    var x1 = -1
    var y1 = -1
    for y in 0..<height {
      for x in 0..<width where a[x, y] != b[x, y] {
        x0 = min(x0, x)
        y0 = min(y0, y)
        x1 = max(x1, x)
        y1 = max(y1, y)
      }
    }
    guard x1 >= 0 else { return nil }
    return PixelRect(x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1)
  }
}

func union(_ a: PixelRect?, _ b: PixelRect?) -> PixelRect {
  guard let a else { return b ?? PixelRect(x: 0, y: 0, width: 0, height: 0) }
  guard let b else { return a }
  let x0 = min(a.x, b.x)
  let y0 = min(a.y, b.y)
  let x1 = max(a.x + a.width, b.x + b.width)
  let y1 = max(a.y + a.height, b.y + b.height)
  return PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
}
