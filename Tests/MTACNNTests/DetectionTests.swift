import Foundation
import Imaging
import Testing

@testable import MTACNN

@Suite struct DetectionTests {
  /// Two blobs, one touching the other only diagonally (8-connected: one component), one apart.
  @Test func componentsBecomeScoredBoxes() {
    let w = 12
    let h = 8
    var p = [Float](repeating: 0.1, count: w * h)
    // blob A: x 1...3, y 1...2 at 0.9, plus (4, 3) touching (3, 2) diagonally at 0.6
    for y in 1...2 { for x in 1...3 { p[y * w + x] = 0.9 } }
    p[3 * w + 4] = 0.6
    // blob B: x 8...10, y 5...6 at 0.7
    for y in 5...6 { for x in 8...10 { p[y * w + x] = 0.7 } }
    let d = NucleusDetector().detect(probabilities: p, width: w, height: h)
    #expect(d.count == 2)
    #expect(d[0].box == PixelRect(x: 1, y: 1, width: 4, height: 3))
    #expect(abs(d[0].score - (6 * 0.9 + 0.6) / 7) < 1e-6)
    #expect(d[0].area == 7)
    #expect(d[1].box == PixelRect(x: 8, y: 5, width: 3, height: 2))
    #expect(abs(d[1].score - 0.7) < 1e-6)
    // above the threshold only: raising it to 0.8 drops blob B and the diagonal pixel
    let high = NucleusDetector(threshold: 0.8).detect(probabilities: p, width: w, height: h)
    #expect(high.map(\.box) == [PixelRect(x: 1, y: 1, width: 3, height: 2)])
    #expect(NucleusDetector(minimumArea: 7).detect(probabilities: p, width: w, height: h).count == 1)
  }

  @Test func boxIoUHandWorked() {
    let a = PixelRect(x: 0, y: 0, width: 10, height: 10)
    #expect(boxIoU(a, a) == 1)
    #expect(boxIoU(a, PixelRect(x: 5, y: 0, width: 10, height: 10)) == 50.0 / 150.0)
    #expect(boxIoU(a, PixelRect(x: 10, y: 0, width: 5, height: 5)) == 0)
    #expect(boxIoU(a, PixelRect(x: 0, y: 0, width: 0, height: 0)) == 0)
  }

  /// NMS at IoU > 0.5: exactly 0.5 survives, just above is removed; the best score wins; the
  /// result does not depend on the input order.
  @Test func nonMaximumSuppression() {
    let a = Detection(box: PixelRect(x: 0, y: 0, width: 10, height: 10), score: 0.9, area: 100)
    // IoU with a: 60 / (100 + 60 - 60)... x 0..9, y 0..5 is 60 px inside a: IoU 0.6
    let b = Detection(box: PixelRect(x: 0, y: 0, width: 10, height: 6), score: 0.8, area: 60)
    // IoU exactly 0.5 with a: 50 px box inside a
    let c = Detection(box: PixelRect(x: 0, y: 5, width: 10, height: 5), score: 0.7, area: 50)
    let far = Detection(box: PixelRect(x: 30, y: 30, width: 4, height: 4), score: 0.2, area: 16)
    #expect(boxIoU(a.box, b.box) == 0.6)
    #expect(boxIoU(a.box, c.box) == 0.5)
    let kept = MTACNN.nonMaximumSuppression([c, far, b, a])
    #expect(kept == [a, c, far])
    #expect(MTACNN.nonMaximumSuppression([a, b, c, far]) == kept)
    #expect(MTACNN.nonMaximumSuppression([b, a], iouAbove: 0.7) == [a, b])
    #expect(MTACNN.nonMaximumSuppression([]) == [])
  }

  @Test func detectionScoreCountsMatches() {
    let t1 = Detection(box: PixelRect(x: 0, y: 0, width: 10, height: 10), score: 1, area: 100)
    let t2 = Detection(box: PixelRect(x: 20, y: 0, width: 10, height: 10), score: 1, area: 100)
    let hit = Detection(box: PixelRect(x: 1, y: 1, width: 10, height: 10), score: 0.9, area: 100)  // IoU 81/119
    let dup = Detection(box: PixelRect(x: 0, y: 1, width: 10, height: 10), score: 0.5, area: 100)  // t1 taken
    let miss = Detection(box: PixelRect(x: 26, y: 0, width: 10, height: 10), score: 0.8, area: 100)  // IoU 0.25
    let s = DetectionScore(detections: [dup, miss, hit], truth: [t1, t2])
    #expect(s.truePositives == 1 && s.falsePositives == 2 && s.falseNegatives == 1)
    #expect(abs(s.f1 - 2.0 / 5.0) < 1e-12)
    #expect(DetectionScore(detections: [], truth: []).f1 == 1)
    #expect((s + s).truePositives == 2)
  }

  /// Against the wbc-seg expert masks (when present): the nucleus mask itself as a probability map
  /// detects exactly the truth objects; a blurred map (a soft model output) still finds them.
  @Test func detectsExpertNucleiOfWbcSeg() throws {
    guard let root = sharedData("data/wbc-seg") else { return }
    var exact = DetectionScore()
    var blurred = DetectionScore()
    for i in 1...60 {
      let path = root + String(format: "/Dataset1/%03d.png", i)
      let truthMask = try #require(MaskRule.expert.nucleusMask(fromMask: try decodeMask(at: path)))
      let truth = NucleusDetector.objects(in: truthMask, minimumArea: 20)
      let p = truthMask.values.map { Float($0) / 255 }
      exact =
        exact
        + DetectionScore(
          detections: NucleusDetector(minimumArea: 20).detect(
            probabilities: p, width: truthMask.width, height: truthMask.height),
          truth: truth)
      let soft = boxBlur(p, width: truthMask.width, height: truthMask.height, radius: 2)
      blurred =
        blurred
        + DetectionScore(
          detections: NucleusDetector(minimumArea: 20).detect(
            probabilities: soft, width: truthMask.width, height: truthMask.height),
          truth: truth)
    }
    #expect(exact.f1 == 1)
    #expect(exact.truePositives >= 60)
    #expect(blurred.f1 > 0.8)
  }
}

/// A (2r+1)^2 box blur with edge clamping.
func boxBlur(_ p: [Float], width w: Int, height h: Int, radius r: Int) -> [Float] {
  var out = [Float](repeating: 0, count: p.count)
  for y in 0..<h {
    for x in 0..<w {
      var s: Float = 0
      for dy in -r...r {
        for dx in -r...r {
          s += p[min(h - 1, max(0, y + dy)) * w + min(w - 1, max(0, x + dx))]
        }
      }
      out[y * w + x] = s / Float((2 * r + 1) * (2 * r + 1))
    }
  }
  return out
}
