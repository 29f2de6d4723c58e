import CaseStore
import Foundation
import Imaging
import Terminal

/// The case view's overlay toggles (issue 7): the model's nucleus mask (`M`), my mask (`y`)
/// and other raters' masks (`o` cycles through them one at a time, then all). Only masks the
/// store returns for the viewer can be drawn: other raters' while blinding allows, the
/// model's unless the session hides it. Each is blended in its theme colour and named in a
/// legend, so no overlay is told by colour alone.
public struct CaseOverlays: Equatable, Sendable {
  public enum Others: Equatable, Sendable {
    case off
    case rater(String)
    case all
  }

  public var model = false
  public var mine = false
  public var others: Others = .off
  /// The case whose masks are loaded, and the masks (owner `model`, `mine`, or `rater:NAME`).
  public var caseID: Int64?
  public var masks: [OverlayMask] = []

  public init() {}

  public var any: Bool { model || mine || others != .off }

  /// The loaded mask of `owner` for `caseID`.
  func mask(_ owner: String, case caseID: Int64) -> OverlayMask? {
    self.caseID == caseID ? masks.first { $0.owner == owner } : nil
  }
}

/// One mask drawn over an image, in a colour, filled or as its outline.
public struct OverlayLayer: Sendable {
  public var mask: Mask
  public var colour: [UInt8]
  public var style: MaskOverlayStyle = .fill
}

func overlayAction(_ state: AppState, _ action: SessionAction) -> (AppState, [Effect]) {
  var s = state
  guard s.screen == .caseView, let d = s.detail else { return (s, []) }
  var o = s.overlays
  switch action {
  case .toggleModelMask:
    if d.modelHidden {
      s.status = StatusMessage("The model is hidden in this session until you label this case", .error)
      return (s, [])
    }
    guard let p = d.prediction else {
      s.status = StatusMessage("No prediction for this case yet", .error)
      return (s, [])
    }
    guard p.maskID != nil else {
      s.status = StatusMessage("The model's prediction has no nucleus mask for this case", .error)
      return (s, [])
    }
    o.model.toggle()
    s.status = StatusMessage("Model mask overlay \(o.model ? "on" : "off")")
  case .toggleMyMask:
    guard d.mine?.maskID != nil else {
      s.status = StatusMessage("You have no mask for this case (m draws one)", .error)
      return (s, [])
    }
    o.mine.toggle()
    s.status = StatusMessage("My mask overlay \(o.mine ? "on" : "off")")
  case .cycleOtherMasks:
    if d.blinded {
      s.status = StatusMessage("Other raters' masks are hidden until you label this case (blinded)", .error)
      return (s, [])
    }
    let raters = otherMaskRaters(d, me: s.rater)
    guard !raters.isEmpty else {
      o.others = .off
      s.overlays = o
      s.status = StatusMessage("No other rater has a mask for this case", .error)
      return (s, [])
    }
    // off → each rater in turn → all of them (when two or more) → off.
    let sequence: [CaseOverlays.Others] =
      [.off] + raters.map { .rater($0) } + (raters.count > 1 ? [.all] : [])
    let i = sequence.firstIndex(of: o.others) ?? 0
    o.others = sequence[(i + 1) % sequence.count]
    switch o.others {
    case .off: s.status = StatusMessage("Other raters' masks off")
    case .rater(let r): s.status = StatusMessage("Showing \(Sanitizer.sanitize(r))'s mask")
    case .all: s.status = StatusMessage("Showing every other rater's mask")
    }
  default:
    return (s, [])
  }
  s.overlays = o
  return (s, overlayLoadEffects(s))
}

/// Other raters with a visible mask on the case, by name.
func otherMaskRaters(_ d: CaseDetail, me: String) -> [String] {
  d.current.filter { $0.rater != me && $0.maskID != nil }.map(\.rater).sorted()
}

/// Loads the case's overlay masks when an overlay is on and they are not loaded (or stale:
/// my mask or another rater's changed since).
func overlayLoadEffects(_ s: AppState) -> [Effect] {
  guard s.overlays.any, let d = s.detail else { return [] }
  let id = d.record.id
  var wanted: [(String, Int64)] = []
  if let m = d.mine?.maskID { wanted.append(("mine", m)) }
  for a in d.current where a.rater != s.rater {
    if let m = a.maskID { wanted.append(("rater:" + a.rater, m)) }
  }
  if let m = d.prediction?.maskID { wanted.append(("model", m)) }
  let loaded = s.overlays.caseID == id ? s.overlays.masks.map { ($0.owner, $0.maskID) } : []
  let same = wanted.count == loaded.count && wanted.allSatisfy { w in loaded.contains { $0 == w } }
  return same && s.overlays.caseID == id ? [] : [.sessions(.loadOverlayMasks(caseID: id))]
}

extension View {
  /// The layers the case view draws on its image, bottom to top, with their legend names.
  static func overlayLayers(_ s: AppState, _ d: CaseDetail) -> [(
    name: String, key: String, layer: OverlayLayer
  )] {
    let o = s.overlays
    let id = d.record.id
    var out: [(String, String, OverlayLayer)] = []
    if o.model, let m = o.mask("model", case: id) {
      out.append(
        (
          "model mask" + (d.prediction.map { " v\($0.modelVersion)" } ?? ""), "model:\(m.maskID)",
          OverlayLayer(mask: m.mask, colour: s.overlayColours.modelMask, style: s.maskStyle)
        ))
    }
    let others: [String]
    switch o.others {
    case .off: others = []
    case .rater(let r): others = [r]
    case .all: others = otherMaskRaters(d, me: s.rater)
    }
    for r in others {
      if let m = o.mask("rater:" + r, case: id) {
        out.append(
          (
            "\(Sanitizer.sanitize(r))'s mask", "\(r):\(m.maskID)",
            OverlayLayer(mask: m.mask, colour: s.overlayColours.otherMask, style: s.maskStyle)
          ))
      }
    }
    if o.mine, let m = o.mask("mine", case: id) {
      out.append(
        (
          "my mask", "mine:\(m.maskID)",
          OverlayLayer(mask: m.mask, colour: s.overlayColours.myMask, style: s.maskStyle)
        ))
    }
    return out
  }

  /// The case view's large image, with the overlays that are on.
  static func caseImagePlacement(_ s: AppState, _ d: CaseDetail, rect: CellRect, _ images: CaseImages)
    -> ImagePlacement
  {
    let r = d.record
    let layers = overlayLayers(s, d)
    if layers.isEmpty {
      return ImagePlacement(
        key: "case:\(r.id)", rect: rect,
        source: images.image(
          s.pictures.caseImage(at: r.imagePath), path: r.imagePath, width: r.width, height: r.height))
    }
    return ImagePlacement(
      key: "case:\(r.id)|" + layers.map(\.key).joined(separator: "|") + s.maskStyle.keySuffix, rect: rect,
      source: images.overlaid(
        s.pictures.caseImage(at: r.imagePath), path: r.imagePath, width: r.width, height: r.height,
        layers: layers.map(\.layer)))
  }

  /// The overlay legend in the case panel: each drawn layer as a colour swatch and its name,
  /// and the keys. Returns the next free row.
  static func overlayLegend(
    _ s: AppState, _ d: CaseDetail, _ f: inout Frame, column x: Int, row: Int, width: Int
  )
    -> Int
  {
    var y = row
    let style = s.overlays.any ? " · O \(s.maskStyle == .fill ? "outline" : "fill")" : ""
    for part in wrapped("Overlays: M model · y mine · o others" + style, width: width - 2)
    where y < s.rows - 1 {
      f.put(part, row: y, column: x, style: Style(.dim), width: width)
      y += 1
    }
    for l in overlayLayers(s, d) where y < s.rows - 1 {
      let c = l.layer.colour
      let used = f.put(
        "■ ", row: y, column: x + 1, style: Style(.text, [.bold], foreground: .rgb(c[0], c[1], c[2])))
      f.put(
        l.name + (s.maskStyle == .outline ? " (outline)" : ""), row: y, column: x + 1 + used,
        width: width - 1 - used)
      y += 1
    }
    if !s.graphics && s.overlays.any && y < s.rows - 1 {
      f.put(
        "(graphics off: overlays are not drawn)", row: y, column: x + 1, style: Style(.dim), width: width - 1)
      y += 1
    }
    return y
  }
}

extension CaseImages {
  /// The case image with masks drawn (filled or outlined), bottom layer first, at the size the renderer
  /// asks for (the scaled image is kept by `memo`).
  public func overlaid(_ picture: RGBImage?, path: String, width: Int, height: Int, layers: [OverlayLayer])
    -> ImageSource
  {
    let memo = self.memo
    return ImageSource(
      width: max(1, width), height: max(1, height),
      base: { w, h in picture.map { memo.image($0, path: path, width: w, height: h) } },
      decorate: { image, shown in
        for layer in layers {
          image = image.drawingMask(
            layer.mask.part(shown, width: image.width, height: image.height), colour: layer.colour,
            style: layer.style)
        }
      })
  }
}
