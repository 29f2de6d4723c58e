import CaseStore
import Foundation
import Imaging
import Terminal

/// The mask editor: the image with the mask being drawn, and its keys beside it.
extension View {
  static func maskEditor(_ s: AppState, _ images: CaseImages, _ f: inout Frame) {
    guard let e = s.editor, let d = s.detail else { return }
    let r = d.record
    let rect = caseImageRect(s)
    if s.graphics {
      // Damages are relative to earlier keys of the same view; a zoom or pan redraws it all.
      let view = s.zoom.key(width: e.width, height: e.height) + s.maskStyle.keySuffix
      // An outline pixel depends on its neighbours: a change moves the outline up to one
      // pixel beyond the changed pixels.
      let grow = s.maskStyle == .outline ? 1 : 0
      let damages = e.damageSince.compactMap {
        s.zoom.damage(
          PixelRect(
            x: $0.region.x - grow, y: $0.region.y - grow, width: $0.region.width + 2 * grow,
            height: $0.region.height + 2 * grow), since: $0.since + view, width: e.width, height: e.height)
      }
      let source = images.editing(
        s.pictures.caseImage(at: r.imagePath), path: r.imagePath, editor: e, colours: s.overlayColours,
        style: s.maskStyle)
      f.place(
        ImagePlacement(
          key: e.imageKey + view, rect: rect,
          source: s.zoom.apply(to: source, width: e.width, height: e.height),
          damages: damages))
    } else {
      f.put(
        " (graphics off: the mask is not shown; --graphics blocks or sixel)", row: 2, column: 0,
        style: Style(.dim))
    }
    let panel = panelWidth(s)
    let x = rect.right + 1
    var y = 1
    // Wrapped at word boundaries, never cut (issue 18, item 10).
    func line(_ text: String, _ style: Style = Style(.text)) {
      for (i, part) in wrapped(text, width: panel - 2).enumerated() {
        guard y < s.rows - 1 else { return }
        f.put((i > 0 ? "  " : "") + part, row: y, column: x, style: style, width: panel)
        y += 1
      }
    }
    line("Mask editor · case #\(r.id)", Style(.title))
    line(Sanitizer.sanitize((r.path as NSString).lastPathComponent), Style(.dim))
    y += 1
    line(
      "Tool: \(e.tool == .paint ? "brush (paint)" : "eraser")",
      e.tool == .paint ? Style(.accent) : Style(.warning))
    line("Radius: \(e.radius) px   [ smaller  ] larger")
    line("Pen: \(e.strokeActive ? "down (Space lifts it)" : "up (Space puts it down)")")
    line("Cursor: \(e.cursorX), \(e.cursorY) of \(e.width) × \(e.height)")
    for part in zoomDescription(s, width: e.width, height: e.height) { line(part) }
    line("Nucleus pixels: \(e.nucleusPixels)")
    line("Mask shown \(s.maskStyle.description) · \(s.maskStyle.hint)")
    line("Undo \(e.undoStack.count) · redo \(e.redoStack.count)")
    line("Started from: \(e.start.description)", Style(.dim))
    line(
      e.changedInVisit ? "Changed: saved when you leave (Esc)" : "No change yet in this visit",
      e.changedInVisit ? Style(.warning) : Style(.dim))
    line(s.modelMask == nil ? "Model mask: none" : "Model mask: a accepts it")
    line(s.referenceMask == nil ? "Reference mask: none" : "Reference mask: r takes it")
    y += 1
    line("hjkl/arrows move 1 px, HJKL/Shift 8 px", Style(.dim))
    line("f fill · d delete nucleus · c clear", Style(.dim))
    line("u undo · Ctrl-R redo · Esc case view", Style(.dim))
    line("Mouse: drag to paint", Style(.dim))
  }
}
