import Foundation
import Imaging
import Testing

@testable import MTACNN

/// Class colours of the synthetic data: each class has a cell colour (a disc in the centre) and, as
/// in Aria, its own scale-bar label style (a coloured box in the bottom-right corner).
let toyCellColours: [(UInt8, UInt8, UInt8)] = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]
let toyLabelColours: [(UInt8, UInt8, UInt8)] = [(250, 250, 250), (20, 20, 20), (250, 20, 250)]

/// A 64 × 64 image of class `c`: seeded background texture, a disc of the class's cell colour, and
/// the class's label box in the corner (Aria's rectangle scaled to 64 px).
func toyImage(class c: Int, index: Int, labelClass: Int? = nil) -> RGBImage {
  var rng = SplitMix64(seed: UInt64(1000 * c + index))
  var im = RGBImage(width: 64, height: 64)
  for y in 0..<64 {
    for x in 0..<64 {
      let v = UInt8(150 + rng.next() % 40)
      im[x, y] = (v, v, UInt8(160 + rng.next() % 40))
    }
  }
  let cx = 20 + Int(rng.next() % 16)
  let cy = 20 + Int(rng.next() % 16)
  for y in 0..<64 {
    for x in 0..<64 where (x - cx) * (x - cx) + (y - cy) * (y - cy) < 64 {
      im[x, y] = toyCellColours[c]
    }
  }
  let r = CornerBlank.aria.rect(forWidth: 64, height: 64)
  return im.blanking(r, with: toyLabelColours[labelClass ?? c])
}

/// A hand-built model that looks at one rectangle of its input and calls the class whose colour is
/// nearest to the rectangle's mean colour; its Grad-CAM marks that rectangle.
final class RectangleReader: ExplainableModel {
  let rect: PixelRect
  let colours: [(UInt8, UInt8, UInt8)]
  let preprocessing: Preprocessing
  let classNames = ["A", "B", "C"]

  init(rect: PixelRect, colours: [(UInt8, UInt8, UInt8)], blank: Bool) {
    self.rect = rect
    self.colours = colours
    preprocessing = Preprocessing(size: 64, cornerBlank: blank ? .aria : nil)
  }

  func probabilities(_ batch: [PlanarImage]) throws -> [[Float]] {
    batch.map { im in
      var m = [0.0, 0.0, 0.0]
      for y in rect.y..<rect.maxY {
        for x in rect.x..<rect.maxX {
          for c in 0..<3 { m[c] += Double(im.data[c * im.pixelCount + y * im.width + x]) }
        }
      }
      let d = colours.map { col in
        zip(m, [col.0, col.1, col.2]).reduce(0.0) { s, p in
          let v = p.0 / Double(rect.area) - Double(p.1) / 255
          return s + v * v
        }
      }
      let e = d.map { exp(-20 * $0) }
      let total = e.reduce(0, +)
      return e.map { Float($0 / total) }
    }
  }

  func gradCAM(_ batch: [PlanarImage], classIndices: [Int?]) throws -> [GradCAMExplanation] {
    try zip(zip(batch, probabilities(batch)), classIndices).map { pair, requested in
      let (im, p) = pair
      var v = [Float](repeating: 0, count: im.pixelCount)
      for y in rect.y..<rect.maxY { for x in rect.x..<rect.maxX { v[y * im.width + x] = 1 } }
      let map = AttributionMap(width: im.width, height: im.height, values: v)
      return GradCAMExplanation(classIndex: requested ?? argmax(p), probabilities: p, cam: map, heatmap: map)
    }
  }
}

func toyImages(perClass: Int) -> [AuditImage] {
  (0..<3).flatMap { c in
    (0..<perClass).map { i in AuditImage(name: "\(c)/\(i)", classIndex: c) { toyImage(class: c, index: i) } }
  }
}

@Suite struct ShortcutAuditTests {
  /// A model that reads the label: accurate only while the corner is there, flips whenever the
  /// corner changes, and puts all of Grad-CAM there. The audit must flag all three.
  @Test func flagsAModelThatReadsTheCorner() throws {
    let corner = CornerBlank.aria.rect(forWidth: 64, height: 64)
    let model = RectangleReader(rect: corner, colours: toyLabelColours, blank: false)
    let r = try ShortcutAudit(corner: .aria).run(model, images: toyImages(perClass: 6), cornerSource: "aria")
    #expect(r.n == 18)
    #expect(r.accuracyUnblanked == 1)
    #expect(r.accuracyBlanked < 0.5)
    #expect(r.flipRateBlanked > 0.5)
    #expect(r.swaps == 36 && r.flipsSwapped == 36 && r.swapsToDonorClass == 36)
    #expect(r.gradcamCornerShare == 1 && r.gradcamImages == 18)
    #expect(abs(r.cornerAreaShare - 121.0 / 4096) < 1e-12)
    #expect(r.gradcamCornerRatio! > 30)
    #expect(!r.passed && r.findings.count == 3)
    #expect(r.cornerSource == "aria")
  }

  /// A model that reads the cell in the centre passes: no flips, no attribution in the corner.
  @Test func passesAModelThatReadsTheCells() throws {
    let model = RectangleReader(
      rect: PixelRect(x: 16, y: 16, width: 32, height: 32),
      colours: toyCellColours.map { c in
        // the disc covers about a fifth of the rectangle over a gray background
        (UInt8((Int(c.0) + 4 * 170) / 5), UInt8((Int(c.1) + 4 * 170) / 5), UInt8((Int(c.2) + 4 * 180) / 5))
      }, blank: true)
    let r = try ShortcutAudit(corner: .aria).run(model, images: toyImages(perClass: 6))
    #expect(r.accuracyBlanked == 1 && r.accuracyUnblanked == 1)
    #expect(r.flipsBlanked == 0 && r.flipsSwapped == 0)
    #expect(r.gradcamCornerShare == 0 && r.gradcamCornerRatio == 0)
    #expect(r.passed && r.findings.isEmpty)
    // The robustness table has a row per shift, in the order asked for; the clean row equals the
    // model's own preprocessing (it blanks the corner), and gray removes the colour it reads.
    #expect(r.robustness.map(\.shift) == ["none", "hue:+10", "hue:-10", "sat:0.85", "sat:1.15", "gray"])
    #expect(r.robustness[0].accuracy == 1 && r.robustness[0].n == 18)
    #expect(r.robustness[5].accuracy < 0.5)
  }

  /// The audit's shifted inputs are exactly `Preprocessing.input(_:shift:)`, the function
  /// `blastview eval --colour-shift` evaluates with.
  @Test func shiftsGoThroughTheModelsPreprocessing() throws {
    final class Recorder: ExplainableModel {
      let classNames = ["A", "B", "C"]
      let preprocessing = Preprocessing(size: 32, cornerBlank: .aria)
      var seen: [PlanarImage] = []
      func probabilities(_ batch: [PlanarImage]) throws -> [[Float]] {
        seen += batch
        return batch.map { _ in [1, 0, 0] }
      }
      func gradCAM(_ batch: [PlanarImage], classIndices: [Int?]) throws -> [GradCAMExplanation] {
        batch.map { im in
          let m = AttributionMap(
            width: im.width, height: im.height, values: [Float](repeating: 0, count: im.pixelCount))
          return GradCAMExplanation(classIndex: 0, probabilities: [1, 0, 0], cam: m, heatmap: m)
        }
      }
    }
    let model = Recorder()
    let image = toyImage(class: 1, index: 0)
    let shifts: [ColourShift] = [.hue(degrees: 10), .gray]
    let r = try ShortcutAudit(corner: .aria, shifts: shifts).run(
      model, images: [AuditImage(name: "x", classIndex: 1) { image }])
    // blanked, unblanked, two swaps? no: no other class has images, so no swap; then the shifts
    #expect(model.seen.count == 4 && r.swaps == 0)
    #expect(model.seen[2] == model.preprocessing.input(image, shift: .hue(degrees: 10)))
    #expect(model.seen[3] == model.preprocessing.input(image, shift: .gray))
    #expect(model.seen[1] == Preprocessing(size: 32).input(image))
    #expect(r.gradcamCornerShare == nil && r.gradcamImages == 0)
  }
}
