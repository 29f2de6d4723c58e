import Foundation
import Imaging
import Testing

@testable import MTACNN

@Suite struct ExplainerTests {
  /// A label-reading model explained on an unblanked image: both methods put the attribution in
  /// the corner; with the corner blanked LIME finds nothing there.
  @Test func explanationsOfALabelReaderPointAtTheCorner() throws {
    let corner = CornerBlank.aria.rect(forWidth: 64, height: 64)
    let model = RectangleReader(rect: corner, colours: toyLabelColours, blank: false)
    let explainer = Explainer(model: model)
    #expect(explainer.corner.source == "aria")
    let image = toyImage(class: 1, index: 3)
    let g = try explainer.explain(image, ExplanationRequest(method: .gradcam))
    #expect(g.classIndex == 1 && g.className == "B" && g.corner.share == 1 && !g.cornerBlanked)
    let l = try explainer.explain(image, ExplanationRequest(method: .lime, lime: LIMEOptions(samples: 200)))
    #expect(l.classIndex == 1)
    let top = try #require(l.topRegions.first)
    let box = l.superpixels!.boundingBoxes[top]
    #expect(box.intersection(corner).area > 0, "top region \(box) misses the corner \(corner)")
    #expect(l.corner.share! > 0.5, "LIME corner share \(l.corner.share!)")
    #expect(l.regionWeights!.count == l.superpixels!.count && l.fitScore! > 0.5)
    // Explaining another class gives that class.
    let other = try explainer.explain(image, ExplanationRequest(method: .gradcam, classIndex: 2))
    #expect(other.classIndex == 2 && other.className == "C")
    // The model's input with the label blanked: the corner carries (almost) no signal; what is left
    // is the blank colour (the mean of the other pixels, in 8 bits) against LIME's fill (the mean of
    // the whole input).
    func peak(_ blank: Bool) throws -> Double {
      let e = try explainer.explain(
        image,
        ExplanationRequest(
          method: .lime, blankCorner: blank, lime: LIMEOptions(samples: 200), superpixels: .grid))
      #expect(e.cornerBlanked == blank)
      return e.regionWeights!.map(abs).max()!
    }
    let (blanked, open) = (try peak(true), try peak(false))
    #expect(blanked < 0.01 * open, "largest |weight| blanked \(blanked), not blanked \(open)")
    #expect(throws: ExplanationError.classOutOfRange(3, classes: 3)) {
      try explainer.explain(image, ExplanationRequest(method: .gradcam, classIndex: 3))
    }
  }

  @Test func overlayIsDrawnAtTheImagesSize() throws {
    let corner = CornerBlank.aria.rect(forWidth: 64, height: 64)
    let model = RectangleReader(rect: corner, colours: toyLabelColours, blank: false)
    let image = toyImage(class: 0, index: 1).resized(width: 128, height: 128)
    let e = try Explainer(model: model).explain(
      image, ExplanationRequest(method: .lime, lime: LIMEOptions(samples: 100)))
    let o = e.overlay(on: image)
    #expect(o.width == 128 && o.height == 128)
    // The corner region is tinted or outlined; the far corner is untouched.
    #expect(o[120, 120] != image[120, 120])
    #expect(o[2, 2] == image[2, 2])
  }
}
