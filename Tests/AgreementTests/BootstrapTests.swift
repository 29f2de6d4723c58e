import Foundation
import Testing

@testable import Agreement

/// The bootstrap against a Python transcription of the documented scheme (fixtures), whose
/// replicate statistics come from sklearn / statsmodels and percentiles from numpy.
@Suite struct BootstrapTests {
  @Test func referenceTwoRaterIntervals() throws {
    let file = try #require(bootstrapFile)
    for c in file.two_rater {
      let table = ConfusionMatrix(k: c.k, rows: c.a, cols: c.b)
      let weights =
        c.weights == "linear"
        ? try AgreementWeights.linear(c.k).get() : try AgreementWeights.quadratic(c.k).get()
      let out = bootstrapKappa(table, weights: weights, samples: c.samples, seed: c.seed)
      #expect(out.count == 2)
      for (ours, ref) in zip(out, [c.cohen, c.weighted]) {
        let ci = try ours.ci95.get()
        #expect(close(ci.lower, ref.low), "\(c.name) \(ours.statistic)")
        #expect(close(ci.upper, ref.high), "\(c.name) \(ours.statistic)")
        #expect(ours.undefinedReplicates == ref.undefined, "\(c.name) \(ours.statistic)")
      }
    }
  }

  @Test func referenceFleissIntervals() throws {
    let file = try #require(bootstrapFile)
    for c in file.fleiss {
      let table = RatingTable(
        categories: (0..<c.k).map { "c\($0)" }, raters: ["a", "b", "c"],
        items: c.ratings.indices.map { "i\($0)" }, codes: c.ratings.flatMap { $0 })
      let out = bootstrapFleiss(CategoryCounts(table), samples: c.samples, seed: c.seed)
      let ci = try out.ci95.get()
      #expect(close(ci.lower, c.fleiss.low))
      #expect(close(ci.upper, c.fleiss.high))
      #expect(out.undefinedReplicates == c.fleiss.undefined)
    }
  }

  @Test func sameSeedSameIntervalWhateverTheThreadCountOrItemOrder() throws {
    var rng = Xoshiro256StarStar(seed: 99)
    let n = 500
    let a = (0..<n).map { _ in Int32(rng.below(4)) }
    let b = a.map { rng.below(10) < 7 ? $0 : Int32(rng.below(4)) }
    let t1 = ConfusionMatrix(k: 4, rows: a, cols: b)
    let perm = (0..<n).shuffled(using: &rng)
    let t2 = ConfusionMatrix(k: 4, rows: perm.map { a[$0] }, cols: perm.map { b[$0] })
    let x = bootstrapKappa(t1, samples: 300, seed: 5)
    let y = bootstrapKappa(t2, samples: 300, seed: 5)
    #expect(x == y)
    let z = bootstrapKappa(t1, samples: 300, seed: 6)
    #expect(x != z, "a different seed gives different resamples")
  }

  @Test func largeSampleIntervalIsCloseToTheAsymptoticOne() throws {
    // With 2,000 items the percentile interval and kappa ± 1.96 se should nearly agree.
    var rng = Xoshiro256StarStar(seed: 3)
    let n = 2000
    let a = (0..<n).map { _ in Int32(rng.below(3)) }
    let b = a.map { rng.below(10) < 6 ? $0 : Int32(rng.below(3)) }
    let table = ConfusionMatrix(k: 3, rows: a, cols: b)
    let est = try cohenKappa(table).get()
    let ci = try bootstrapKappa(table, samples: 1000, seed: 1)[0].ci95.get()
    #expect(abs(ci.lower - est.ci95.lower) < 0.01)
    #expect(abs(ci.upper - est.ci95.upper) < 0.01)
    #expect(ci.lower < est.kappa && est.kappa < ci.upper)
  }

  @Test func quantileIsNumpyLinear() {
    #expect(quantile([1, 2, 3, 4], 0.5) == 2.5)
    #expect(quantile([10], 0.975) == 10)
    #expect(abs(quantile([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.025) - 0.25) < 1e-12)
  }

  /// The bootstrap's fast pair of draws is exactly two successive `below32` draws, including
  /// across the rare rejections (bounds near 2^32 reject often).
  @Test func pairOfDrawsEqualsTwoSingleDraws() {
    var a = Xoshiro256StarStar(seed: 5, stream: 3)
    var b = a
    for bound: UInt32 in [1, 3, 100_000, 2_147_483_649, 3_000_000_000, 4_294_967_295] {
      for _ in 0..<20_000 {
        let (x, y) = a.pairBelow32(bound)
        #expect(x == b.below32(bound) && y == b.below32(bound))
        #expect(x < bound && y < bound)
      }
      // Leave a half pending, so the next pairs take the slow path.
      #expect(a.next32() == b.next32())
    }
  }

  /// SplitMix64's published first outputs for seed 0 (Vigna's reference implementation).
  @Test func splitMixReferenceOutputs() {
    #expect(splitMix64(seed: 0, index: 0) == 0xE220_A839_7B1D_CDAF)
    #expect(splitMix64(seed: 0, index: 1) == 0x6E78_9E6A_A1B9_65F4)
  }
}
