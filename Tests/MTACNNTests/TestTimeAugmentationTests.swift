import Foundation
import Imaging
import Testing

@testable import MTACNN

/// Issue 17's test-time augmentation: the averaged probabilities are the mean of plain
/// predictions of the 8 flipped and turned images, each made here by index arithmetic of its own.
@Suite struct TestTimeAugmentationTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// Element t of the dihedral group by coordinates: out(x, y) for a square n × n image.
  /// t < 4: t counter-clockwise quarter turns; t >= 4: mirrored left-right first.
  static func turned(_ im: RGBImage, _ t: Int) -> RGBImage {
    let n = im.width
    var out = RGBImage(width: n, height: n)
    for y in 0..<n {
      for x in 0..<n {
        // Undo the turns: a CCW quarter turn sends source (sx, sy) to (sy, n-1-sx).
        var (sx, sy) = (x, y)
        for _ in 0..<(t % 4) { (sx, sy) = (n - 1 - sy, sx) }
        if t >= 4 { sx = n - 1 - sx }
        for c in 0..<3 { out.pixels[(y * n + x) * 3 + c] = im.pixels[(sy * n + sx) * 3 + c] }
      }
    }
    return out
  }

  @Test func averagesThePlainPredictionsOfTheEightTurns() throws {
    let (net, _) = try ModelCheckpoint.load(
      path: Self.root.appendingPathComponent("Models/wbc5.safetensors").path)
    let pre = net.configuration.preprocessing
    let files = ["lymphocyte/001.png", "monocyte/013.png", "neutrophil/002.png"]
    var examples: [Example] = []
    for f in files {
      let image = try decodeImage(
        at: Self.root.appendingPathComponent("SampleData/wbc-seg/images/\(f)").path)
      examples.append(
        Example(
          image: pre.resized(image, shift: .none), classIndex: nil, mask: nil, part: .test, name: f,
          sourceWidth: image.width, sourceHeight: image.height))
    }
    for t in 0..<8 {
      #expect(Predictor.dihedral(examples[0].image, t) == Self.turned(examples[0].image, t), "element \(t)")
    }
    #expect(Set((0..<8).map { Predictor.dihedral(examples[0].image, $0).pixels }).count == 8)

    let plain = Predictor(model: net)
    var mean = [[Double]](repeating: [Double](repeating: 0, count: 5), count: files.count)
    for t in 0..<8 {
      let turned = examples.map { ex -> Example in
        var e = ex
        e.image = Self.turned(ex.image, t)
        return e
      }
      for (i, p) in plain.predict(examples: turned).enumerated() {
        for k in 0..<5 { mean[i][k] += p.probabilities![k] / 8 }
      }
    }
    let tta = Predictor(model: net)
    tta.testTimeAugmentation = true
    let got = tta.predict(examples: examples)
    let once = plain.predict(examples: examples)
    for i in files.indices {
      for k in 0..<5 { #expect(abs(got[i].probabilities![k] - mean[i][k]) < 1e-6, "\(files[i]) class \(k)") }
      #expect(got[i].predictedClass == mean[i].indices.max { mean[i][$0] < mean[i][$1] })
      // The nucleus map is the plain pass's.
      #expect(got[i].nucleusMask == once[i].nucleusMask)
    }
  }
}
