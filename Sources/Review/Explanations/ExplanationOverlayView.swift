import CaseStore
import Foundation
import Imaging
import MTACNN
import Terminal

/// How the case view draws explanations and nucleus boxes, and its legend. The colours are the
/// explanation overlay's (`ExplanationOverlayStyle`: orange for, blue against, yellow outlines, a
/// diverging pair that colour-vision deficiencies keep apart); boxes are white with a black edge,
/// visible on pale background and dark nuclei alike. Every colour is named in the legend.
extension View {
  static let explanationStyle = ExplanationOverlayStyle.standard
  static let boxColour: (UInt8, UInt8, UInt8) = (255, 255, 255)
  static let boxEdge: (UInt8, UInt8, UInt8) = (0, 0, 0)

  /// The detections to draw for the case, when `d` is on and the model is visible.
  static func shownDetections(_ s: AppState, _ d: CaseDetail) -> [StoredDetection]? {
    guard s.explanations.showDetections, !d.modelHidden, let p = d.prediction else { return nil }
    return p.detections
  }

  /// The case image with the mask overlays, then the explanation, then the nucleus boxes.
  static func explainedImagePlacement(_ s: AppState, _ d: CaseDetail, rect: CellRect, _ images: CaseImages)
    -> ImagePlacement
  {
    let base = caseImagePlacement(s, d, rect: rect, images)
    let explanation = d.modelHidden ? nil : s.explanations.shown(for: d.record.id)
    let boxes = shownDetections(s, d)
    guard explanation != nil || boxes != nil else { return base }
    var key = base.key
    if let e = explanation { key += "|explain:\(e.key)" }
    if let p = d.prediction, boxes != nil { key += "|boxes:v\(p.modelVersion)" }
    let r = d.record
    let layers = overlayLayers(s, d).map(\.layer)
    return ImagePlacement(
      key: key, rect: rect,
      source: images.explained(
        s.pictures.caseImage(at: r.imagePath), path: r.imagePath, width: r.width, height: r.height,
        layers: layers,
        explanation: explanation?.explanation,
        boxes: boxes ?? []))
  }

  /// The legend of the explanation and the boxes in the case panel. Returns the next free row.
  static func explanationLegend(
    _ s: AppState, _ d: CaseDetail, _ f: inout Frame, column x: Int, row: Int, width: Int
  ) -> Int {
    var y = row
    // Panel lines wrap at word boundaries rather than being cut (issue 18, item 10).
    func line(_ text: String, _ style: Style = Style(.text), indent: Int = 1) {
      for part in View.wrapped(text, width: width - indent) {
        guard y < s.rows - 1 else { return }
        f.put(part, row: y, column: x + indent, style: style, width: width - indent)
        y += 1
      }
    }
    func swatch(_ c: (UInt8, UInt8, UInt8), _ mark: String, _ text: String) {
      guard y < s.rows - 1 else { return }
      let used = f.put(
        mark + " ", row: y, column: x + 1, style: Style(.text, [.bold], foreground: .rgb(c.0, c.1, c.2)))
      f.put(text, row: y, column: x + 1 + used, width: width - 1 - used)
      y += 1
    }
    guard y < s.rows - 1 else { return y }
    f.put("Explain: e why · d nucleus boxes", row: y, column: x, style: Style(.dim), width: width)
    y += 1
    let ex = s.explanations
    let st = explanationStyle
    if ex.showExplanation && !d.modelHidden {
      if let c = ex.shown(for: d.record.id) {
        let e = c.explanation
        let name = Sanitizer.sanitize(e.className)
        let method = e.method == .lime ? "LIME, \(e.superpixels?.count ?? 0) regions" : "Grad-CAM"
        line("\(method) for \(name) (model v\(c.key.modelVersion))")
        swatch((st.positive.r, st.positive.g, st.positive.b), "■", "orange: speaks for \(name)")
        if e.method == .lime {
          swatch((st.negative.r, st.negative.g, st.negative.b), "■", "blue: speaks against it")
          swatch(
            (st.outline.r, st.outline.g, st.outline.b), "□",
            e.topRegions.count == 1 ? "yellow: the top region" : "yellow: top \(e.topRegions.count) regions")
        }
        line(
          View.cornerSentence(e.corner),
          e.corner.enrichment.map { $0 > 2 } == true ? Style(.warning) : Style(.dim))
      } else if ex.failure == nil {
        line("Grad-CAM: computing…", Style(.dim))
      }
      if let p = ex.pending, p.caseID == d.record.id {
        line(ex.total > 0 ? "LIME: \(ex.done)/\(ex.total) perturbed images…" : "LIME: queued…", Style(.dim))
      }
      if let failure = ex.failure { line(failure, Style(.statusError)) }
    }
    if let boxes = shownDetections(s, d) {
      swatch(boxColour, "□", "white boxes: \(boxes.count) \(boxes.count == 1 ? "nucleus" : "nuclei") (NMS)")
    }
    if !s.graphics && (ex.showExplanation || ex.showDetections) {
      line("(graphics off: overlays are not drawn)", Style(.dim))
    }
    return y
  }

  /// The scale-bar check in a hematologist's words (issue 18, item 7: "Scale-bar corner: 0.0%
  /// of it (area 2.7%)" meant nothing to a clinician): how much of what speaks for the class
  /// lies in the corner that holds the microscope's scale bar, against the corner's share of
  /// the picture, and what that means.
  static func cornerSentence(_ c: CornerAttribution) -> String {
    let area = String(format: "%.1f%%", 100 * c.areaShare)
    guard let share = c.share else {
      return "Scale bar: nothing speaks for the class, so nothing in the scale-bar corner either"
    }
    let part = String(format: "%.0f%%", 100 * share)
    if let e = c.enrichment, e > 2 {
      return "⚠ Scale bar: \(part) of the evidence lies in the scale-bar corner, which is only \(area) of "
        + "the picture: the model may be reading the label, not the cells"
    }
    return "Scale bar: \(part) of the evidence lies in the scale-bar corner (\(area) of the picture): "
      + "the model looks at the cells, not the label"
  }
}

extension CaseImages {
  /// The case image with masks blended in, the explanation tinted over it and the nucleus boxes
  /// drawn, at the size the renderer asks for.
  func explained(
    _ picture: RGBImage?, path: String, width: Int, height: Int, layers: [OverlayLayer],
    explanation: ImageExplanation?,
    boxes: [StoredDetection]
  ) -> ImageSource {
    let memo = self.memo
    return ImageSource(width: max(1, width), height: max(1, height)) { w, h in
      guard let picture else { return nil }
      var out = memo.image(picture, path: path, width: w, height: h)
      for layer in layers { out = out.drawingMask(layer.mask, colour: layer.colour, style: layer.style) }
      if let explanation { out = explanation.overlay(on: out, style: View.explanationStyle) }
      let sx = Double(w) / Double(max(width, 1))
      let sy = Double(h) / Double(max(height, 1))
      for b in boxes {
        let x0 = Int((Double(b.x) * sx).rounded(.down))
        let y0 = Int((Double(b.y) * sy).rounded(.down))
        let x1 = Int((Double(b.x + b.width) * sx).rounded(.up)) - 1
        let y1 = Int((Double(b.y + b.height) * sy).rounded(.up)) - 1
        CaseImages.drawBox(&out, x0 - 1, y0 - 1, x1 + 1, y1 + 1, View.boxEdge)
        CaseImages.drawBox(&out, x0, y0, x1, y1, View.boxColour)
      }
      return out
    }
  }

  /// A one-pixel rectangle outline, clipped to the image.
  static func drawBox(
    _ im: inout RGBImage, _ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8)
  ) {
    guard x1 >= x0, y1 >= y0 else { return }
    for x in max(x0, 0)...max(min(x1, im.width - 1), 0) where x <= x1 && x < im.width {
      if y0 >= 0 && y0 < im.height { im[x, y0] = c }
      if y1 >= 0 && y1 < im.height { im[x, y1] = c }
    }
    for y in max(y0, 0)...max(min(y1, im.height - 1), 0) where y <= y1 && y < im.height {
      if x0 >= 0 && x0 < im.width { im[x0, y] = c }
      if x1 >= 0 && x1 < im.width { im[x1, y] = c }
    }
  }
}
