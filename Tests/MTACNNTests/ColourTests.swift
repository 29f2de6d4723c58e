import Foundation
import Imaging
import Testing

@testable import MTACNN

@Suite struct ColourTests {
  /// Every `--colour-shift` against the PyTorch reference's `colour_shift_u8`, within one level.
  @Test func shiftsMatchReference() throws {
    let f = try fixture("colour")
    let image = rgbImage(f["image"])
    let shifts = f["shifts"] as! [String: Any]
    for text in ["none", "hue:+10", "hue:-10", "sat:0.85", "sat:1.15", "gray"] {
      let shift = try ColourShift(parsing: text)
      #expect(maxDifference(shift.apply(to: image), rgbImage(shifts[text])) <= 1, "\(text)")
    }
  }

  @Test func parsesAndNamesShifts() throws {
    #expect(try ColourShift(parsing: "hue:+10") == .hue(degrees: 10))
    #expect(try ColourShift(parsing: "HUE:-10") == .hue(degrees: -10))
    #expect(try ColourShift(parsing: "sat:0.85") == .saturation(factor: 0.85))
    #expect(try ColourShift(parsing: "grey") == .gray)
    #expect(
      ColourShift.all.map(\.description) == ["none", "hue:+10", "hue:-10", "sat:0.85", "sat:1.15", "gray"])
    #expect(throws: ColourShift.ParseError.self) { try ColourShift(parsing: "hue:ten") }
    #expect(throws: ColourShift.ParseError.self) { try ColourShift(parsing: "sat:-1") }
    #expect(throws: ColourShift.ParseError.self) { try ColourShift(parsing: "blur:2") }
    // The library quotes the text faithfully; the CLI filters it when printing
    // (`ModelCommandTests.hostileTextInModelErrorsIsNeutralisedWhenPrinted`).
    let err = ColourShift.ParseError(text: "x\u{1B}[2J")
    #expect(err.description.contains("'x\u{1B}[2J'"))
  }

  @Test func operationsMatchReference() throws {
    let f = try fixture("colour")
    let image = PlanarImage(rgbImage(f["image"]))
    let ops = f["ops"] as! [String: Any]
    func check(_ name: String, _ op: (inout PlanarImage) -> Void) {
      var p = image
      op(&p)
      #expect(maxDifference(p.rgbImage(), rgbImage(ops[name])) <= 1, "\(name)")
    }
    check("brighten_1.2") { ColourOperations.brighten(&$0, factor: 1.2) }
    check("contrast_0.7") { ColourOperations.contrast(&$0, factor: 0.7) }
    check("saturate_1.3") { ColourOperations.saturate(&$0, factor: 1.3) }
    check("hue_+37.5") { ColourOperations.rotateHue(&$0, degrees: 37.5) }
    check("hed_a1.1_0.9_1.05_b0.05_-0.03_0.02") {
      ColourOperations.jitterStains(&$0, alpha: (1.1, 0.9, 1.05), beta: (0.05, -0.03, 0.02))
    }
  }

  /// Issue 10: hue rotation by +x then -x returns the image within rounding.
  @Test(arguments: [10.0, 15.0, 90.0, 179.0])
  func hueRotationInverts(degrees: Double) {
    var rng = SplitMix64(seed: 11)
    let img = RGBImage(
      width: 23, height: 17, pixels: (0..<(23 * 17 * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    let there = ColourShift.hue(degrees: degrees).apply(to: img)
    let back = ColourShift.hue(degrees: -degrees).apply(to: there)
    #expect(maxDifference(back, img) <= 2)
    var p = PlanarImage(img)
    ColourOperations.rotateHue(&p, degrees: degrees)
    ColourOperations.rotateHue(&p, degrees: -degrees)
    #expect(zip(p.data, PlanarImage(img).data).allSatisfy { abs($0 - $1) < 1e-5 })
    #expect(maxDifference(there, img) > 0)
  }

  @Test func stainJitterIdentityIsIdentity() {
    var rng = SplitMix64(seed: 3)
    let img = PlanarImage(width: 9, height: 5, data: (0..<135).map { _ in Float(0.05 + 0.9 * rng.unit()) })
    var p = img
    ColourOperations.jitterStains(&p, alpha: (1, 1, 1), beta: (0, 0, 0))
    #expect(zip(p.data, img.data).allSatisfy { abs($0 - $1) < 1e-5 })
  }

  /// Issue 10: augmentation is deterministic for a seed, and differs between seeds.
  @Test func augmentationDeterministicForSeed() {
    let config = AugmentationConfig(
      hueDegrees: 15, saturation: 0.3, brightness: 0.15, contrast: 0.15, grayProbability: 0.2, hedScale: 0.05,
      hedShift: 0.05)
    var base = SplitMix64(seed: 5)
    let img = PlanarImage(width: 16, height: 16, data: (0..<768).map { _ in Float(base.unit()) })
    let mask = Mask(width: 16, height: 16, values: (0..<256).map { $0 % 7 == 0 ? 255 : 0 })
    func run(_ seed: UInt64) -> (PlanarImage, Mask?) {
      var rng = SplitMix64(seed: seed)
      var out: [(PlanarImage, Mask?)] = []
      for _ in 0..<4 {
        var p = img
        var m: Mask? = mask
        Augmenter(config).apply(&p, mask: &m, using: &rng)
        out.append((p, m))
      }
      return out[3]
    }
    let a = run(42)
    let b = run(42)
    let c = run(43)
    #expect(a.0 == b.0 && a.1 == b.1)
    #expect(a.0 != c.0)
  }

  /// Geometry moves image and mask together: a marked pixel stays under the mask pixel.
  @Test func geometryKeepsMaskAligned() {
    var img = PlanarImage(width: 5, height: 3)
    img.data[1 * 5 + 3] = 1  // R at (3, 1)
    var mask = Mask(width: 5, height: 3)
    mask[3, 1] = 255
    for k in 0..<4 {
      let ri = Geometry.rotated90(img, times: k)
      let rm = Geometry.rotated90(mask, times: k)
      let i = ri.data.firstIndex(of: 1)!
      #expect(rm.values[i] == 255)
      #expect(ri.width == (k % 2 == 0 ? 5 : 3))
    }
    // one CCW turn as numpy.rot90: out[y][x] = in[x][W-1-y]; (3, 1) -> (1, 5-1-3) = (1, 1)
    let r1 = Geometry.rotated90(mask, times: 1)
    #expect(r1[1, 1] == 255)
    #expect(Geometry.flippedHorizontally(mask)[1, 1] == 255)
    #expect(Geometry.flippedVertically(mask)[3, 1] == 255)
  }

  @Test func labMatchesReference() throws {
    let f = try fixture("colour")
    let img = rgbImage(f["image"])
    let lab = f["lab"] as! [[[Any]]]
    for y in 0..<img.height {
      for x in 0..<img.width {
        let p = img[x, y]
        let v = Reinhard.lab(Double(p.r) / 255, Double(p.g) / 255, Double(p.b) / 255)
        let e = doubles(lab[y][x])
        #expect(abs(v.0 - e[0]) < 1e-6 && abs(v.1 - e[1]) < 1e-6 && abs(v.2 - e[2]) < 1e-6)
      }
    }
  }

  @Test func reinhardMatchesReference() throws {
    let f = try fixture("colour")
    let ref = f["reinhard_ref"] as! [String: Any]
    var p = PlanarImage(rgbImage(f["image"]))
    StainNormalisation.reinhard(mean: doubles(ref["mean"]), std: doubles(ref["std"])).apply(to: &p)
    #expect(maxDifference(p.rgbImage(), rgbImage(f["reinhard"])) <= 1)
  }

  /// Issue 10: normalising the reference image maps it to itself.
  @Test func normalisationMapsReferenceToItself() throws {
    let f = try fixture("colour")
    let img = PlanarImage(rgbImage(f["image"]))
    let (m, s) = Reinhard.statistics(img)
    var r = img
    StainNormalisation.reinhard(mean: m, std: s).apply(to: &r)
    #expect(zip(r.data, img.data).allSatisfy { abs($0 - $1) < 1e-5 })

    // Macenko reconstructs from two stains, so its reference image is an exact two-stain mixture
    // (an 8-bit image has a small third component that no two-stain model keeps)
    let h = [0.65, 0.70, 0.29].map { $0 / 1.0106 }
    let e = [0.07, 0.99, 0.11].map { $0 / 0.9986 }
    var mac = PlanarImage(width: 8, height: 8)
    for i in 0..<64 {
      let ch = 0.05 + 1.5 * Double(i) / 63
      let ce = 0.1 + 0.8 * Double(i % 8) / 7
      for c in 0..<3 { mac.data[c * 64 + i] = Float(exp(-(h[c] * ch + e[c] * ce))) }
    }
    let (stains, cmax) = Macenko.stains(mac)
    var q = mac
    StainNormalisation.macenko(stains: stains, maxConcentration: cmax).apply(to: &q)
    #expect(zip(q.data, mac.data).allSatisfy { abs($0 - $1) < 1e-5 })
  }

  @Test func macenkoStainsMatchReference() throws {
    let f = try fixture("colour")
    let (stains, cmax) = Macenko.stains(PlanarImage(rgbImage(f["macenko_image"])))
    let expected = (f["macenko_stains"] as! [Any]).map(doubles)
    for k in 0..<2 { for c in 0..<3 { #expect(abs(stains[k][c] - expected[k][c]) < 1e-6) } }
    let ec = doubles(f["macenko_max_conc"])
    #expect(abs(cmax[0] - ec[0]) < 1e-6 && abs(cmax[1] - ec[1]) < 1e-6)
  }

  @Test func stainNormalisationConfigRoundTrips() throws {
    let json = #"{"method": "macenko", "stains": [[0.6, 0.7, 0.3], [0.1, 0.9, 0.2]], "max_conc": [1.2, 0.8]}"#
    let s = try JSONDecoder().decode(StainNormalisation.self, from: Data(json.utf8))
    #expect(s == .macenko(stains: [[0.6, 0.7, 0.3], [0.1, 0.9, 0.2]], maxConcentration: [1.2, 0.8]))
    let again = try JSONDecoder().decode(StainNormalisation.self, from: try JSONEncoder().encode(s))
    #expect(again == s)
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(StainNormalisation.self, from: Data(#"{"method": "vahadane"}"#.utf8))
    }
  }
}

@Suite struct StainFittingTests {
  /// Fitted on a single image, the reference is that image's own statistics, so normalising it
  /// leaves it unchanged; fitted on two, the means are averaged.
  @Test func reinhardFitAveragesAndMapsItsImageToItself() throws {
    let img = PlanarImage(rgbImage(try fixture("colour")["image"]))
    var p = img
    StainNormalisation.fitReinhard([img]).apply(to: &p)
    #expect(zip(p.data, img.data).allSatisfy { abs($0 - $1) < 1e-5 })
    var darker = img
    ColourOperations.brighten(&darker, factor: 0.8)
    guard case .reinhard(let mean, _) = StainNormalisation.fitReinhard([img, darker]) else {
      Issue.record("not reinhard")
      return
    }
    let a = Reinhard.statistics(img).mean[0]
    let b = Reinhard.statistics(darker).mean[0]
    #expect(abs(mean[0] - (a + b) / 2) < 1e-9)
  }

  @Test func macenkoFitOfOneImageIsItsOwnStains() throws {
    let mac = PlanarImage(rgbImage(try fixture("colour")["macenko_image"]))
    let own = Macenko.stains(mac)
    guard case .macenko(let stains, let maxC) = StainNormalisation.fitMacenko([mac, mac, mac]) else {
      Issue.record("not macenko")
      return
    }
    for k in 0..<2 { for c in 0..<3 { #expect(abs(stains[k][c] - own.stains[k][c]) < 1e-9) } }
    #expect(maxC == own.maxConcentration)
  }
}
