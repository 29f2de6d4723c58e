import Foundation
import Testing

@testable import Agreement

/// Two-rater statistics against sklearn, statsmodels and irrCAC (fixtures), to 1e-6.
@Suite struct TwoRaterReferenceTests {
  /// Compares a kappa estimate with statsmodels' `cohens_kappa` (same FCE 1969 formulas).
  func expectMatches(_ ours: Result<KappaEstimate, Undefined>, _ ref: StatsmodelsKappa?, sklearn: Double?) {
    guard let ref else {
      #expect(ours.value == nil, "statsmodels had no value (p_e = 1); ours must be undefined too")
      #expect(sklearn == nil)
      return
    }
    guard let est = ours.value else {
      Issue.record("expected a value, got \(String(describing: ours.undefined))")
      return
    }
    #expect(close(est.kappa, ref.kappa))
    #expect(close(est.kappa, sklearn))
    if let se = ref.se { #expect(close(est.se, se)) }
    if let lo = ref.ci_low, let hi = ref.ci_upp {
      #expect(close(est.ci95.lower, lo))
      #expect(close(est.ci95.upper, hi))
    }
    if let se0 = ref.se0, se0 > 1e-9 {
      #expect(close(est.se0, se0))
      #expect(close(est.z, ref.z, 1e-6 * max(1, abs(ref.z ?? 0))))
    } else if ref.se0 != nil {
      // statsmodels' se0 is 0: there is no z; ours says why.
      #expect(est.z == nil)
      #expect(est.undefinedParts.contains { $0.statistic.hasSuffix(".z") })
    }
  }

  @Test(arguments: twoRaterCases)
  func cohenKappaMatchesStatsmodelsAndSklearn(_ c: TwoRaterCase) {
    expectMatches(cohenKappa(c.table), c.statsmodels, sklearn: c.sklearn_kappa)
  }

  @Test(arguments: twoRaterCases)
  func linearWeightedKappaMatches(_ c: TwoRaterCase) throws {
    let w = try AgreementWeights.linear(c.k).get()
    expectMatches(cohenKappa(c.table, weights: w), c.statsmodels_linear, sklearn: c.sklearn_kappa_linear)
  }

  @Test(arguments: twoRaterCases)
  func quadraticWeightedKappaMatches(_ c: TwoRaterCase) throws {
    let w = try AgreementWeights.quadratic(c.k).get()
    expectMatches(
      cohenKappa(c.table, weights: w), c.statsmodels_quadratic, sklearn: c.sklearn_kappa_quadratic)
  }

  @Test func clinicalWeightsMatchTheDocumentedMatrixAndStatsmodels() throws {
    let c = try #require(twoRaterCases.first { $0.name == "all4_clinical_n300" })
    let categories = try #require(c.categories)
    let w = try AgreementWeights.clinical(categories: categories)
    let reference = try #require(c.clinical_weights)
    #expect(w.values == reference.flatMap { $0 })
    let ours = cohenKappa(c.table, weights: w, statistic: "weighted")
    let ref = try #require(c.statsmodels_clinical)
    let est = try ours.get()
    #expect(close(est.kappa, ref.kappa))
    #expect(close(est.se, ref.se))
    #expect(close(est.se0, ref.se0))
    #expect(close(est.z, ref.z, 1e-5))
  }

  @Test(arguments: twoRaterCases)
  func scottPiMatchesIrrCAC(_ c: TwoRaterCase) {
    let ours = scottPi(c.table)
    #expect(close(ours.value, c.irrcac_scott))
    if c.irrcac_scott == nil { #expect(ours.undefined != nil) }
  }

  @Test(arguments: twoRaterCases)
  func gwetAC1MatchesIrrCAC(_ c: TwoRaterCase) throws {
    let ref = try #require(c.irrcac_gwet)
    let est = try gwetAC1(c.table).get()
    #expect(close(est.ac1, ref.ac1))
    #expect(close(est.pa, ref.pa))
    #expect(close(est.pe, ref.pe))
    // irrCAC replaces a zero standard error by 1e-15.
    #expect(close(est.se, ref.se))
  }

  @Test(arguments: twoRaterCases)
  func pabakMatchesBrennanPredigerFromIrrCAC(_ c: TwoRaterCase) {
    #expect(close(pabak(c.table).value, c.irrcac_bp))
  }

  @Test(arguments: twoRaterCases)
  func specificAgreementMatchesItsDefinition(_ c: TwoRaterCase) {
    let ours = specificAgreement(c.table)
    #expect(ours.count == c.specific_agreement.count)
    for (o, r) in zip(ours, c.specific_agreement) {
      #expect(close(o.value, r))
    }
  }

  /// The SAS PROC FREQ printout recorded in statsmodels' tests (4 decimals).
  @Test func sasPrintoutValues() throws {
    let c = try #require(twoRaterCases.first { $0.name == "sas_3x3" })
    let p = try #require(c.published)
    func pub(_ key: String) throws -> Double { try #require(p[key]?.number) }
    let plain = try cohenKappa(c.table).get()
    #expect(roundsTo(plain.kappa, try pub("kappa"), digits: 4))
    #expect(roundsTo(plain.se, try pub("se"), digits: 4))
    #expect(roundsTo(plain.ci95.lower, try pub("ci_low"), digits: 4))
    #expect(roundsTo(plain.ci95.upper, try pub("ci_upp"), digits: 4))
    #expect(roundsTo(try #require(plain.se0), try pub("se0"), digits: 4))
    #expect(roundsTo(try #require(plain.z), try pub("z"), digits: 4))
    let lin = try cohenKappa(c.table, weights: try AgreementWeights.linear(3).get()).get()
    #expect(roundsTo(lin.kappa, try pub("linear_kappa"), digits: 4))
    #expect(roundsTo(lin.se, try pub("linear_se"), digits: 4))
    #expect(roundsTo(lin.ci95.lower, try pub("linear_ci_low"), digits: 4))
    #expect(roundsTo(lin.ci95.upper, try pub("linear_ci_upp"), digits: 4))
    #expect(roundsTo(try #require(lin.se0), try pub("linear_se0"), digits: 4))
    #expect(roundsTo(try #require(lin.z), try pub("linear_z"), digits: 4))
  }

  /// The prevalence paradox: 91 % raw agreement, kappa 0.13, AC1 0.90.
  @Test func prevalenceParadoxKappaLowAC1High() throws {
    let c = try #require(twoRaterCases.first { $0.name == "prevalence_paradox" })
    let kappa = try cohenKappa(c.table).get().kappa
    let ac1 = try gwetAC1(c.table).get().ac1
    #expect(kappa < 0.2)
    #expect(ac1 > 0.85)
  }

  /// The report's two-rater section is the same functions on the same table.
  @Test(arguments: twoRaterCases)
  func reportAgreesWithTheFunctions(_ c: TwoRaterCase) throws {
    let categories = c.categories ?? (0..<c.k).map { "c\($0)" }
    let codes = zip(c.a, c.b).flatMap { [$0, $1] }
    let table = RatingTable(
      categories: categories, raters: ["A", "B"], items: c.a.indices.map { "i\($0)" }, codes: codes)
    let report = AgreementReport(table)
    let two = try #require(report.twoRater)
    #expect(two.confusion == c.table)
    #expect(close(two.cohen.value?.kappa, c.sklearn_kappa))
    #expect(close(report.gwetAC1.value?.ac1, c.irrcac_gwet?.ac1))
    #expect(close(two.pabak.value, c.irrcac_bp))
  }
}
