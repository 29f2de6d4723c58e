import Foundation
import Testing

@testable import Agreement

/// What the review dashboard adds to the agreement report: a kappa with its SE and CI (and the
/// weighted kappa) for every pair of raters, and per-category specific agreement for any
/// number of raters.
@Suite struct PairwiseAndSpecificAgreementTests {
  /// A two-rater fixture as a rating table (raters a and b, one item per pair of codes).
  func table(_ c: TwoRaterCase) -> RatingTable {
    var codes: [Int32] = []
    for (x, y) in zip(c.a, c.b) { codes += [x, y] }
    return RatingTable(
      categories: (0..<c.k).map { "c\($0)" }, raters: ["a", "b"], items: c.a.indices.map { "i\($0)" },
      codes: codes)
  }

  /// The pair's estimate is statsmodels' `cohens_kappa`: kappa, SE and the Wald CI.
  @Test(arguments: twoRaterCases)
  func pairEstimatesMatchStatsmodels(_ c: TwoRaterCase) throws {
    let linear = try AgreementWeights.linear(c.k).get()
    let pairs = pairwiseKappa(table(c), weights: linear)
    #expect(pairs.count == 1)
    let p = try #require(pairs.first)
    #expect(p.confusion == c.table)
    for (ours, ref) in [(p.cohen, c.statsmodels), (p.weighted!, c.statsmodels_linear)] {
      guard let ref else { continue }
      guard let est = ours.value else {
        Issue.record("statsmodels has kappa \(ref.kappa), ours is undefined")
        continue
      }
      #expect(close(est.kappa, ref.kappa))
      if let se = ref.se { #expect(close(est.se, se)) }
      if let lo = ref.ci_low, let hi = ref.ci_upp {
        #expect(close(est.ci95.lower, lo))
        #expect(close(est.ci95.upper, hi))
      }
    }
  }

  /// With three raters, each pair's estimate is the two-rater report of those two alone.
  @Test(arguments: multiRaterCases)
  func eachPairIsTheTwoRaterReportOfThatPair(_ c: MultiRaterCase) throws {
    let t = c.table
    let w = try AgreementWeights.quadratic(c.k).get()
    let report = AgreementReport(t, options: AgreementOptions(weights: w))
    for p in report.pairwise {
      var codes: [Int32] = []
      for i in t.items.indices {
        codes += [t.codes[i * t.raters.count + p.a], t.codes[i * t.raters.count + p.b]]
      }
      let sub = RatingTable(
        categories: t.categories, raters: [t.raters[p.a], t.raters[p.b]], items: t.items, codes: codes)
      let two = try #require(AgreementReport(sub, options: AgreementOptions(weights: w)).twoRater)
      #expect(p.confusion == two.confusion)
      // The same numbers (the undefined reasons name the pair instead of "cohen").
      for (x, y) in [(p.cohen, two.cohen), (p.weighted!, two.weighted!)] {
        #expect(x.value?.kappa == y.value?.kappa && x.value?.se == y.value?.se)
        #expect(x.value?.ci95 == y.value?.ci95 && x.value?.n == y.value?.n)
        #expect((x.undefined == nil) == (y.undefined == nil))
      }
    }
  }

  /// Worked by hand: three raters, categories A and B, missing ratings.
  ///   i1 A A A   A: 3·2 agreeing of 3·2 pairs
  ///   i2 A A B   A: 2·1 of 2·2; B: 0 of 1·2
  ///   i3 B B -   B: 2·1 of 2·1
  ///   i4 A - -   one rating: no pairs
  ///   i5 A B -   A: 0 of 1; B: 0 of 1
  /// A: (6 + 2 + 0) / (6 + 4 + 1) = 8/11; B: (0 + 2 + 0) / (2 + 2 + 1) = 2/5.
  @Test func manyRaterSpecificAgreementByHand() throws {
    let m = RatingTable.missing
    let t = RatingTable(
      categories: ["A", "B", "C"], raters: ["r1", "r2", "r3"], items: ["i1", "i2", "i3", "i4", "i5"],
      codes: [0, 0, 0, 0, 0, 1, 1, 1, m, 0, m, m, 0, 1, m])
    let s = specificAgreement(CategoryCounts(t), categories: t.categories)
    #expect(close(s[0].value, 8.0 / 11))
    #expect(close(s[1].value, 2.0 / 5))
    #expect(s[2].undefined?.statistic == "specific_agreement.C")
    let report = AgreementReport(t)
    #expect(report.specificAgreement == s)
    #expect(report.undefined.contains { $0.statistic == "specific_agreement.C" })
  }

  /// With two raters the many-rater form is 2 n_kk / (n_k+ + n_+k), the fixtures' reference.
  @Test(arguments: twoRaterCases)
  func manyRaterFormReducesToTheTwoRaterOne(_ c: TwoRaterCase) {
    let many = specificAgreement(CategoryCounts(c.table))
    #expect(many.count == c.specific_agreement.count)
    for (ours, ref) in zip(many, c.specific_agreement) { #expect(close(ours.value, ref)) }
    #expect(
      AgreementReport(table(c)).specificAgreement.map(\.value) == specificAgreement(c.table).map(\.value))
  }
}
