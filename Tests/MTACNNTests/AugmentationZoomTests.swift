import Foundation
import Imaging
import Testing

@testable import MTACNN

/// The zoom (scale) augmentation of the demo model's recipe: the geometry on hand-computed
/// pixels, image and mask moving together, and nothing changed for configurations without it.
@Suite struct AugmentationZoomTests {
  /// A 4 × 4 image whose red channel is x, green y (by tens), blue 0.
  static func ramp() -> PlanarImage {
    var im = PlanarImage(width: 4, height: 4)
    for y in 0..<4 {
      for x in 0..<4 {
        im.data[y * 4 + x] = Float(x) / 10
        im.data[16 + y * 4 + x] = Float(y) / 10
      }
    }
    return im
  }

  @Test func zoomGeometryByHand() {
    let im = Self.ramp()
    #expect(Geometry.zoomed(im, by: 1) == im)
    // z = 2 about the centre (2, 2): output pixel centre x + 0.5 maps to (x + 0.5 - 2) / 2 + 2,
    // i.e. source coordinate (x + 0.5 - 2) / 2 + 2 - 0.5 = 0.75, 1.25, 1.75, 2.25 for x = 0...3.
    let z = Geometry.zoomed(im, by: 2)
    let expected: [Float] = [0.075, 0.125, 0.175, 0.225]
    for x in 0..<4 { #expect(abs(z.data[x] - expected[x]) < 1e-6, "x \(x)") }
    for y in 0..<4 { #expect(abs(z.data[16 + y * 4] - expected[y]) < 1e-6, "y \(y)") }
    // z = 0.5: source coordinates -1.5, 0.5, 2.5, 4.5 → mirrored: between pixels 1 and 0 (1.5
    // reflects to 0.5 after the edge pixel repeats), 0.5, 2.5, and 4.5 → 2.5.
    let s = Geometry.zoomed(im, by: 0.5)
    #expect(abs(s.data[1] - 0.05) < 1e-6)
    #expect(abs(s.data[2] - 0.25) < 1e-6)
    #expect(abs(s.data[0] - 0.05) < 1e-6)
    #expect(abs(s.data[3] - 0.25) < 1e-6)
    #expect(Geometry.mirror(-1, 4) == 0 && Geometry.mirror(-2, 4) == 1 && Geometry.mirror(4, 4) == 3)
    #expect(Geometry.mirror(9, 4) == 1)
  }

  /// A disc drawn in both the image and the mask stays in register after any zoom: the
  /// zoomed image, thresholded, is the zoomed mask but for pixels on the disc's edge.
  @Test func imageAndMaskMoveTogether() {
    let n = 64
    var im = PlanarImage(width: n, height: n)
    var mask = Mask(width: n, height: n)
    for y in 0..<n {
      for x in 0..<n {
        // Radius 8 about (34, 30): far enough from the edges that the mirrored surround of a
        // shrunk image holds no copy of it.
        let dx = Double(x) - 34
        let dy = Double(y) - 30
        if dx * dx + dy * dy < 64 {
          mask.values[y * n + x] = 255
          for c in 0..<3 { im.data[c * n * n + y * n + x] = 1 }
        }
      }
    }
    for z in [0.625, 0.8, 1.3, 1.6] {
      let zi = Geometry.zoomed(im, by: z)
      let zm = Geometry.zoomed(mask, by: z)
      var differ = 0
      var inside = 0
      for i in 0..<(n * n) {
        let a = zi.data[i] >= 0.5
        let b = zm.values[i] == 255
        if a != b { differ += 1 }
        if b { inside += 1 }
      }
      #expect(inside > 0)
      // The disc's area scales with z²; only edge pixels may differ.
      #expect(abs(Double(inside) - 201 * z * z) < 0.2 * 201 * z * z, "z \(z): \(inside)")
      #expect(differ <= Int(2 * 3.2 * 8 * z) + 4, "z \(z): \(differ) pixels differ")
    }
  }

  /// Without `scale` an augmenter draws exactly the random numbers it drew before the zoom
  /// existed (the same images for a seed, the PyTorch reference's stream), and the recorded
  /// configuration has no `scale` key; a record without the key reads back as no zoom.
  @Test func noZoomNoChange() throws {
    let im = Self.ramp()
    var a = im
    var b = im
    var ma: Mask? = nil
    var mb: Mask? = nil
    var r1 = SplitMix64(seed: 5)
    var r2 = SplitMix64(seed: 5)
    Augmenter(.colour).apply(&a, mask: &ma, using: &r1)
    var withZero = AugmentationConfig.colour
    withZero.scale = 0
    Augmenter(withZero).apply(&b, mask: &mb, using: &r2)
    #expect(a == b)
    #expect(r1.next() == r2.next())
    let json = try #require(
      try JSONSerialization.jsonObject(with: JSONEncoder().encode(AugmentationConfig.colour))
        as? [String: Any])
    #expect(json["scale"] == nil)
    let zoomed = try JSONEncoder().encode(AugmentationConfig.colourAndScale)
    let back = try JSONDecoder().decode(AugmentationConfig.self, from: zoomed)
    #expect(back == .colourAndScale && back.scale == 0.6)
    let old = try JSONDecoder().decode(
      AugmentationConfig.self, from: JSONEncoder().encode(AugmentationConfig.colour))
    #expect(old.scale == 0)
    // With scale, one more number is drawn and the zoom stays inside [1/1.6, 1.6]: a 1-pixel
    // dot at the centre of a 33-pixel image spreads or vanishes but stays centred.
    var dot = PlanarImage(width: 33, height: 33)
    dot.data[16 * 33 + 16] = 1
    var m: Mask? = nil
    var r = SplitMix64(seed: 9)
    var zoomOnly = AugmentationConfig(flip: false, rot90: false)
    zoomOnly.scale = 0.6
    Augmenter(zoomOnly).apply(&dot, mask: &m, using: &r)
    var sumX = 0.0
    var total = 0.0
    for y in 0..<33 {
      for x in 0..<33 {
        sumX += Double(dot.data[y * 33 + x]) * Double(x)
        total += Double(dot.data[y * 33 + x])
      }
    }
    if total > 0 { #expect(abs(sumX / total - 16) < 1e-3) }
  }
}
