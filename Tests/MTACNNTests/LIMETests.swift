import Foundation
import Imaging
import Testing

@testable import MTACNN

/// A 64 × 64 image whose top-left quadrant is strongly red and the rest dim, with seeded texture.
func quadrantImage(seed: UInt64) -> PlanarImage {
  var rng = SplitMix64(seed: seed)
  let s = 64
  var p = PlanarImage(width: s, height: s)
  let n = s * s
  for y in 0..<s {
    for x in 0..<s {
      let i = y * s + x
      let inQuadrant = x < s / 2 && y < s / 2
      p.data[i] = Float(inQuadrant ? 0.75 + 0.2 * rng.unit() : 0.1 + 0.3 * rng.unit())
      p.data[n + i] = Float(0.2 + 0.6 * rng.unit())
      p.data[2 * n + i] = Float(0.2 + 0.6 * rng.unit())
    }
  }
  return p
}

/// The mean of the red channel over the top-left quadrant (Double accumulation).
func quadrantRedMean(_ p: PlanarImage) -> Double {
  var s = 0.0
  for y in 0..<(p.height / 2) {
    for x in 0..<(p.width / 2) { s += Double(p.data[y * p.width + x]) }
  }
  return s / Double(p.width / 2 * p.height / 2)
}

/// A two-class toy model: the logit of class 1 is 8 × (quadrant red mean − 0.5).
func quadrantClassifier(_ batch: [PlanarImage]) -> [[Float]] {
  batch.map { im in
    let p = 1 / (1 + exp(-8 * (quadrantRedMean(im) - 0.5)))
    return [Float(1 - p), Float(p)]
  }
}

/// Share of a region's pixels inside the top-left quadrant.
func quadrantShare(_ sp: Superpixels, _ region: Int) -> Double {
  var inside = 0
  var all = 0
  for y in 0..<sp.height {
    for x in 0..<sp.width where Int(sp.labels[y * sp.width + x]) == region {
      all += 1
      if x < sp.width / 2 && y < sp.height / 2 { inside += 1 }
    }
  }
  return Double(inside) / Double(all)
}

@Suite struct RidgeTests {
  /// Against scikit-learn's `Ridge(...).fit(X, y, sample_weight=w)` (explain_ridge.json).
  @Test func matchesScikitLearn() throws {
    let f = try fixture("explain_ridge")
    for case let c as [String: Any] in f["ridge"] as! [Any] {
      let name = c["name"] as! String
      let fit = try WeightedRidge.fit(
        features: doubles(c["x"]), featureCount: ints([c["p"]!])[0], targets: doubles(c["y"]),
        weights: doubles(c["w"]), alpha: double(c["alpha"]))
      for (a, b) in zip(fit.coefficients, doubles(c["coef"])) {
        #expect(abs(a - b) <= 1e-9 * max(1, abs(b)), "\(name) coef \(a) vs \(b)")
      }
      #expect(abs(fit.intercept - double(c["intercept"])) <= 1e-9, "\(name) intercept")
      #expect(abs(fit.score - double(c["score"])) <= 1e-9, "\(name) score")
    }
  }

  /// The LIME pipeline after the classifier: kernel weights on the cosine distance, then the fit,
  /// against scikit-learn's `pairwise_distances(metric="cosine")` and `Ridge`.
  @Test func limeKernelAndFitMatchScikitLearn() throws {
    let f = try fixture("explain_ridge")
    for case let c as [String: Any] in f["lime"] as! [Any] {
      let p = ints([c["p"]!])[0]
      let z = doubles(c["x"]).map { UInt8($0) }
      let k = LIME.kernelWeights(design: z, regions: p, width: double(c["kernel_width"]))
      for (a, b) in zip(k, doubles(c["kernel"])) { #expect(abs(a - b) < 1e-12) }
      let fit = try WeightedRidge.fit(
        features: z.map(Double.init), featureCount: p, targets: doubles(c["y"]), weights: k,
        alpha: double(c["alpha"]))
      for (a, b) in zip(fit.coefficients, doubles(c["coef"])) { #expect(abs(a - b) < 1e-9) }
      #expect(abs(fit.intercept - double(c["intercept"])) < 1e-9)
      #expect(abs(fit.score - double(c["score"])) < 1e-9)
    }
  }

  @Test func refusesWhatCannotBeFitted() {
    // Two identical columns and no penalty: no unique solution.
    let x: [Double] = [0, 0, 1, 1, 1, 1, 0, 0]
    #expect(throws: WeightedRidge.FitError.singular) {
      try WeightedRidge.fit(
        features: x, featureCount: 2, targets: [0, 1, 1, 0], weights: [1, 1, 1, 1], alpha: 0)
    }
    #expect(throws: WeightedRidge.FitError.noWeight) {
      try WeightedRidge.fit(
        features: x, featureCount: 2, targets: [0, 1, 1, 0], weights: [0, 0, 0, 0], alpha: 1)
    }
    // The same columns with a penalty share the effect equally.
    let fit = try? WeightedRidge.fit(
      features: x, featureCount: 2, targets: [0, 1, 1, 0], weights: [1, 1, 1, 1], alpha: 1)
    #expect(fit != nil && abs(fit!.coefficients[0] - fit!.coefficients[1]) < 1e-12)
  }
}

@Suite struct LIMETests {
  @Test func designIsSeededWithTheImageFirst() {
    let lime = LIME(options: LIMEOptions(samples: 400, seed: 5))
    let z = lime.design(regions: 37)
    #expect(z.count == 400 * 37)
    #expect(z[0..<37].allSatisfy { $0 == 1 })
    #expect(z == lime.design(regions: 37))
    #expect(z != LIME(options: LIMEOptions(samples: 400, seed: 6)).design(regions: 37))
    let ones = z[37...].reduce(0) { $0 + Int($1) }
    let share = Double(ones) / Double(z.count - 37)
    #expect(abs(share - 0.5) < 0.02, "share of shown regions \(share)")
  }

  @Test func perturbationHidesOnlyTheOffRegions() {
    let image = quadrantImage(seed: 1)
    let sp = Superpixels.grid(width: 64, height: 64, regions: 4)
    let fill = LIME.meanColour(image)
    let out = LIME.perturbed(image, superpixels: sp, active: [1, 0, 1, 1][...], fill: fill)
    let n = 64 * 64
    for i in 0..<n {
      if sp.labels[i] == 1 {
        #expect(out.data[i] == fill.0 && out.data[n + i] == fill.1 && out.data[2 * n + i] == fill.2)
      } else {
        #expect(out.data[i] == image.data[i] && out.data[2 * n + i] == image.data[2 * n + i])
      }
    }
  }

  /// Issue 9's toy model: the class logit depends only on the top-left quadrant, so LIME must rank
  /// a region of that quadrant first, on SLIC regions and on a grid, and give regions outside it
  /// next to nothing.
  @Test func ranksTheQuadrantFirst() throws {
    let image = quadrantImage(seed: 11)
    for sp in [Superpixels.slic(image, regions: 50), Superpixels.grid(width: 64, height: 64, regions: 16)] {
      let e = try LIME().explain(image, superpixels: sp, classifier: quadrantClassifier)
      #expect(e.classIndex == 1)
      #expect(e.probabilities[1] > 0.7)
      let top = try #require(e.topRegions.first)
      #expect(
        quadrantShare(sp, top) > 0.9, "top region \(top) lies \(quadrantShare(sp, top)) in the quadrant")
      #expect(e.topRegions.count == 5)
      let peak = e.weights[top]
      for r in e.topRegions where e.weights[r] > 0.1 * peak { #expect(quadrantShare(sp, r) > 0.5) }
      for r in 0..<sp.count where quadrantShare(sp, r) == 0 {
        #expect(abs(e.weights[r]) < 0.1 * peak, "outside region \(r): \(e.weights[r]) vs \(peak)")
      }
      #expect(e.fit.score > 0.9)
      // Asking for the other class turns the signs round.
      let other = try LIME().explain(image, superpixels: sp, classIndex: 0, classifier: quadrantClassifier)
      #expect(other.classIndex == 0 && other.weights[top] < 0)
    }
  }

  /// A model that is exactly linear in the shown regions: with no penalty LIME's weights are the
  /// hand-computed effects a_k = Σ_{p ∈ k ∩ Q} (red_p − mean red) / |Q| of showing region k.
  @Test func recoversExactLinearEffects() throws {
    let image = quadrantImage(seed: 2)
    let sp = Superpixels.slic(image, regions: 30)
    let linear: BatchClassifier = { batch in batch.map { im in [Float(quadrantRedMean(im)), 0] } }
    let e = try LIME(options: LIMEOptions(samples: 300, ridgeAlpha: 0)).explain(
      image, superpixels: sp, classIndex: 0, classifier: linear)
    let fill = Double(LIME.meanColour(image).0)
    var expected = [Double](repeating: 0, count: sp.count)
    for y in 0..<32 {
      for x in 0..<32 {
        expected[Int(sp.labels[y * 64 + x])] += (Double(image.data[y * 64 + x]) - fill) / 1024
      }
    }
    for k in 0..<sp.count { #expect(abs(e.weights[k] - expected[k]) < 1e-6, "region \(k)") }
    #expect(e.fit.score > 0.999999)
    // Each pixel of the heatmap carries its region's weight.
    #expect(e.heatmap.values[63 * 64 + 63] == Float(e.weights[Int(sp.labels[63 * 64 + 63])]))
  }

  @Test func deterministicForASeed() throws {
    let image = quadrantImage(seed: 4)
    let sp = Superpixels.slic(image)
    let a = try LIME(options: LIMEOptions(samples: 100, seed: 1)).explain(
      image, superpixels: sp, classifier: quadrantClassifier)
    let b = try LIME(options: LIMEOptions(samples: 100, seed: 1)).explain(
      image, superpixels: sp, classifier: quadrantClassifier)
    let c = try LIME(options: LIMEOptions(samples: 100, seed: 2)).explain(
      image, superpixels: sp, classifier: quadrantClassifier)
    #expect(a.weights == b.weights && a.topRegions == b.topRegions)
    #expect(a.weights != c.weights)
    // The batch size changes only how the samples are grouped.
    let d = try LIME(options: LIMEOptions(samples: 100, batchSize: 7, seed: 1)).explain(
      image, superpixels: sp, classifier: quadrantClassifier)
    #expect(d.weights == a.weights)
  }

  struct Stop: Error {}

  @Test func reportsProgressAndStopsWhenAsked() throws {
    let image = quadrantImage(seed: 4)
    let sp = Superpixels.grid(width: 64, height: 64, regions: 9)
    var seen: [Int] = []
    _ = try LIME(options: LIMEOptions(samples: 70, batchSize: 32)).explain(
      image, superpixels: sp, classifier: quadrantClassifier,
      progress: { done, total in
        #expect(total == 70)
        seen.append(done)
      })
    #expect(seen == [32, 64, 70])
    var calls = 0
    #expect(throws: Stop.self) {
      try LIME(options: LIMEOptions(samples: 70, batchSize: 32)).explain(
        image, superpixels: sp,
        classifier: {
          calls += 1
          return quadrantClassifier($0)
        },
        progress: { done, _ in if done >= 32 { throw Stop() } })
    }
    #expect(calls == 1)
  }

  @Test func badInputsGetTypedErrors() {
    let image = quadrantImage(seed: 4)
    let sp = Superpixels.grid(width: 64, height: 64, regions: 9)
    #expect(throws: ExplanationError.classifierOutput("3 rows for a batch of 32 images")) {
      try LIME().explain(
        image, superpixels: sp, classifier: { _ in [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]] })
    }
    #expect(throws: ExplanationError.classOutOfRange(4, classes: 2)) {
      try LIME(options: LIMEOptions(samples: 10)).explain(
        image, superpixels: sp, classIndex: 4, classifier: quadrantClassifier)
    }
    #expect(throws: ExplanationError.self) {
      try LIME().explain(
        image, superpixels: Superpixels.grid(width: 32, height: 64, regions: 4),
        classifier: quadrantClassifier)
    }
    #expect(throws: ExplanationError.self) {
      try LIME(options: LIMEOptions(samples: 1)).explain(
        image, superpixels: sp, classifier: quadrantClassifier)
    }
    #expect(throws: ExplanationError.self) {
      try LIME(options: LIMEOptions(samples: 10)).explain(
        image, superpixels: sp, classifier: { b in b.map { _ in [Float.nan, 1] } })
    }
  }
}

@Suite struct AttributionTests {
  /// PyTorch's `interpolate(mode="bilinear", align_corners=False)` of [[0, 1], [2, 3]] to 4 × 4
  /// (worked by hand: source coordinate (o + 0.5)/2 − 0.5, clamped at 0).
  @Test func bilinearMatchesHalfPixelCentres() {
    let m = AttributionMap(width: 2, height: 2, values: [0, 1, 2, 3])
    let r = m.resized(width: 4, height: 4, interpolation: .bilinear)
    let expected: [Float] = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]
    for (a, b) in zip(r.values, expected) { #expect(abs(a - b) < 1e-6) }
    let n = m.resized(width: 4, height: 4, interpolation: .nearest)
    #expect(n.values == [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3])
  }

  @Test func cornerShareCountsOnlyPositiveAttribution() {
    var v = [Float](repeating: 0, count: 16)
    v[15] = 3  // bottom-right pixel
    v[0] = 1
    v[5] = -4  // negative attribution is not counted
    let m = AttributionMap(width: 4, height: 4, values: v)
    #expect(m.positiveShare(in: PixelRect(x: 3, y: 3, width: 1, height: 1)) == 0.75)
    #expect(m.positiveShare(in: PixelRect(x: 2, y: 2, width: 9, height: 9)) == 0.75)
    #expect(
      AttributionMap(width: 2, height: 2, values: [0, -1, 0, 0]).positiveShare(
        in: PixelRect(x: 0, y: 0, width: 1, height: 1)) == nil)
    // Aria's corner (x 188-223, y 188-223 at 224) on a 128 × 128 map.
    let uniform = AttributionMap(width: 128, height: 128, values: [Float](repeating: 1, count: 128 * 128))
    let c = uniform.cornerAttribution(.aria)
    #expect(c.rect == PixelRect(x: 107, y: 107, width: 21, height: 21))
    #expect(abs(c.areaShare - 441.0 / 16384) < 1e-12)
    #expect(abs(c.share! - c.areaShare) < 1e-12 && abs(c.enrichment! - 1) < 1e-9)
  }

  @Test func overlayTintsByValueAndOutlinesRegions() {
    let image = RGBImage(width: 8, height: 8, fill: (100, 100, 100))
    var v = [Float](repeating: 0, count: 64)
    v[0] = 2  // full strength, positive
    v[1] = -2  // full strength, negative
    v[2] = 0.1  // under the 10 % threshold: untouched
    let style = ExplanationOverlayStyle.standard
    var outline = Mask(width: 8, height: 8)
    outline[5, 5] = 255
    let out = ExplanationOverlay.render(
      image, heatmap: AttributionMap(width: 8, height: 8, values: v), interpolation: .nearest,
      outline: outline)
    func mix(_ c: UInt8) -> UInt8 { UInt8((0.4 * 100 + 0.6 * Float(c)).rounded()) }
    #expect(out[0, 0] == (mix(style.positive.r), mix(style.positive.g), mix(style.positive.b)))
    #expect(out[1, 0] == (mix(style.negative.r), mix(style.negative.g), mix(style.negative.b)))
    #expect(out[2, 0] == (100, 100, 100))
    #expect(out[5, 5] == (style.outline.r, style.outline.g, style.outline.b))
    #expect(out[4, 5] == (0, 0, 0) && out[5, 6] == (0, 0, 0))
    #expect(out[7, 7] == (100, 100, 100))
    // A map at the network's size is stretched over a larger image.
    let big = ExplanationOverlay.render(
      RGBImage(width: 16, height: 16, fill: (100, 100, 100)),
      heatmap: AttributionMap(width: 8, height: 8, values: v), interpolation: .nearest)
    #expect(big[1, 1] == out[0, 0] && big[2, 0] == out[1, 0])
  }
}
