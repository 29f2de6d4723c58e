import Foundation
import Testing

@testable import Agreement

/// Seeded random property tests: what must hold for any data.
@Suite struct PropertyTests {
  /// Random two-rater codes over k categories with agreement probability `agree`.
  static func ratings(_ rng: inout Xoshiro256StarStar, n: Int, k: Int, agree: UInt64) -> ([Int32], [Int32]) {
    let a = (0..<n).map { _ in Int32(rng.below(UInt64(k))) }
    let b = a.map { rng.below(100) < agree ? $0 : Int32(rng.below(UInt64(k))) }
    return (a, b)
  }

  @Test(arguments: 0..<20)
  func kappaIsOneForIdenticalRatings(seed: Int) throws {
    var rng = Xoshiro256StarStar(seed: UInt64(seed))
    let k = 2 + Int(rng.below(5))
    let (a, _) = Self.ratings(&rng, n: 5 + Int(rng.below(300)), k: k, agree: 0)
    let t = ConfusionMatrix(k: k, rows: a, cols: a)
    // Unless every item is one category (then kappa is undefined, tested elsewhere).
    guard Set(a).count > 1 else { return }
    let est = try cohenKappa(t).get()
    #expect(abs(est.kappa - 1) < 1e-12)
    #expect(est.se < 1e-6)
    for w in [try AgreementWeights.linear(k).get(), try AgreementWeights.quadratic(k).get()] {
      #expect(abs(try cohenKappa(t, weights: w).get().kappa - 1) < 1e-12)
    }
    #expect(abs(try scottPi(t).get() - 1) < 1e-12)
    #expect(abs(try gwetAC1(t).get().ac1 - 1) < 1e-12)
    #expect(abs(try pabak(t).get() - 1) < 1e-12)
    let table = RatingTable(
      categories: (0..<k).map { "c\($0)" }, raters: ["x", "y", "z"], items: a.indices.map { "\($0)" },
      codes: a.flatMap { [$0, $0, $0] })
    let report = AgreementReport(table)
    #expect(abs(try report.fleiss.get().kappa - 1) < 1e-12)
    #expect(abs(try report.krippendorffNominal.get() - 1) < 1e-12)
    #expect(abs(try report.krippendorffOrdinal.get() - 1) < 1e-12)
    #expect(abs(try report.lightsKappa.get() - 1) < 1e-12)
  }

  @Test(arguments: 0..<20)
  func relabellingCategoriesLeavesUnweightedStatisticsUnchanged(seed: Int) throws {
    var rng = Xoshiro256StarStar(seed: 1000 + UInt64(seed))
    let k = 2 + Int(rng.below(5))
    let m = 2 + Int(rng.below(3))
    let n = 20 + Int(rng.below(200))
    var codes: [Int32] = []
    for _ in 0..<n {
      let truth = Int32(rng.below(UInt64(k)))
      for _ in 0..<m {
        let r = rng.below(100)
        codes.append(r < 10 ? RatingTable.missing : r < 75 ? truth : Int32(rng.below(UInt64(k))))
      }
    }
    let perm = (0..<k).shuffled(using: &rng).map(Int32.init)
    let categories = (0..<k).map { "c\($0)" }
    let items = (0..<n).map { "i\($0)" }
    let raters = (0..<m).map { "r\($0)" }
    let t1 = RatingTable(categories: categories, raters: raters, items: items, codes: codes)
    let t2 = RatingTable(
      categories: categories, raters: raters, items: items,
      codes: codes.map { $0 == RatingTable.missing ? $0 : perm[Int($0)] })
    let r1 = AgreementReport(t1)
    let r2 = AgreementReport(t2)
    #expect(close(r1.fleiss.value?.kappa, r2.fleiss.value?.kappa, 1e-12))
    #expect(close(r1.fleiss.value?.se, r2.fleiss.value?.se, 1e-12))
    #expect(close(r1.krippendorffNominal.value, r2.krippendorffNominal.value, 1e-12))
    #expect(close(r1.gwetAC1.value?.ac1, r2.gwetAC1.value?.ac1, 1e-12))
    #expect(close(r1.gwetAC1.value?.se, r2.gwetAC1.value?.se, 1e-12))
    #expect(close(r1.lightsKappa.value, r2.lightsKappa.value, 1e-12))
    for (p, q) in zip(r1.pairwise, r2.pairwise) { #expect(close(p.kappa.value, q.kappa.value, 1e-12)) }
    if let x = r1.twoRater, let y = r2.twoRater {
      #expect(close(x.cohen.value?.kappa, y.cohen.value?.kappa, 1e-12))
      #expect(close(x.cohen.value?.se, y.cohen.value?.se, 1e-12))
      #expect(close(x.cohen.value?.se0, y.cohen.value?.se0, 1e-12))
      #expect(close(x.scottPi.value, y.scottPi.value, 1e-12))
      #expect(close(x.pabak.value, y.pabak.value, 1e-12))
      // Specific agreement follows its category.
      for c in 0..<k {
        #expect(close(x.specificAgreement[c].value, y.specificAgreement[Int(perm[c])].value, 1e-12))
      }
    }
  }

  @Test(arguments: 0..<20)
  func swappingTheRatersLeavesKappaUnchanged(seed: Int) throws {
    var rng = Xoshiro256StarStar(seed: 2000 + UInt64(seed))
    let k = 2 + Int(rng.below(4))
    let (a, b) = Self.ratings(&rng, n: 10 + Int(rng.below(300)), k: k, agree: 60)
    let t = ConfusionMatrix(k: k, rows: a, cols: b)
    let s = ConfusionMatrix(k: k, rows: b, cols: a)
    #expect(s == t.transposed)
    var weightSets: [AgreementWeights?] = [nil, try AgreementWeights.linear(k).get()]
    weightSets.append(try AgreementWeights.quadratic(k).get())
    for w in weightSets {
      guard let x = cohenKappa(t, weights: w).value else { continue }
      let y = try cohenKappa(s, weights: w).get()
      #expect(abs(x.kappa - y.kappa) < 1e-12)
      #expect(abs(x.se - y.se) < 1e-12)
      #expect(close(x.se0, y.se0, 1e-12))
    }
    #expect(close(scottPi(t).value, scottPi(s).value, 1e-12))
    #expect(close(gwetAC1(t).value?.ac1, gwetAC1(s).value?.ac1, 1e-12))
    #expect(close(gwetAC1(t).value?.se, gwetAC1(s).value?.se, 1e-12))
  }

  @Test(arguments: 0..<20)
  func diceIsTwoJOverOnePlusJ(seed: Int) throws {
    var rng = Xoshiro256StarStar(seed: 3000 + UInt64(seed))
    let w = 8 + Int(rng.below(40))
    let h = 8 + Int(rng.below(40))
    let density = rng.below(100)
    func map() throws -> InstanceMap {
      try InstanceMap(
        width: w, height: h,
        labels: (0..<(w * h)).map { _ in rng.below(100) < density ? Int32(1 + rng.below(9)) : 0 })
    }
    let m = try MaskAgreement(reference: try map(), other: try map())
    guard let dice = m.dice.value, let j = m.iou.value else {
      #expect(m.areaA + m.areaB == 0)
      return
    }
    #expect(abs(dice - 2 * j / (1 + j)) < 1e-12)
  }

  @Test(arguments: 0..<10)
  func swappingMasksSwapsPrecisionAndRecall(seed: Int) throws {
    var rng = Xoshiro256StarStar(seed: 4000 + UInt64(seed))
    let w = 30
    let h = 30
    func map() throws -> InstanceMap {
      try InstanceMap(
        width: w, height: h,
        labels: (0..<(w * h)).map { _ in rng.below(100) < 40 ? Int32(1 + rng.below(4)) : 0 })
    }
    let a = try map()
    let b = try map()
    let ab = try MaskAgreement(reference: a, other: b)
    let ba = try MaskAgreement(reference: b, other: a)
    #expect(close(ab.precision.value, ba.recall.value, 1e-12))
    #expect(close(ab.f1.value, ba.f1.value, 1e-12))
    #expect(close(ab.pq.value, ba.pq.value, 1e-12))
    #expect(close(ab.dice.value, ba.dice.value, 1e-12))
  }
}
