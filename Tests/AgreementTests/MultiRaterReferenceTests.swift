import Foundation
import Testing

@testable import Agreement

/// Several raters against statsmodels, irrCAC and krippendorff, and published examples.
@Suite struct MultiRaterReferenceTests {
  @Test(arguments: multiRaterCases)
  func krippendorffAlphaMatchesThePackage(_ c: MultiRaterCase) {
    let counts = CategoryCounts(c.table)
    #expect(close(krippendorffAlpha(counts, metric: .nominal).value, c.krippendorff_nominal))
    #expect(close(krippendorffAlpha(counts, metric: .ordinal).value, c.krippendorff_ordinal))
  }

  @Test(arguments: multiRaterCases)
  func gwetAC1MatchesIrrCACWithMissingData(_ c: MultiRaterCase) throws {
    let est = try gwetAC1(CategoryCounts(c.table)).get()
    #expect(close(est.ac1, c.irrcac_gwet.ac1))
    #expect(close(est.pa, c.irrcac_gwet.pa))
    #expect(close(est.pe, c.irrcac_gwet.pe))
    #expect(close(est.se, c.irrcac_gwet.se))
  }

  @Test(arguments: multiRaterCases)
  func fleissKappaOnCompleteItemsMatchesStatsmodelsAndIrrCAC(_ c: MultiRaterCase) throws {
    let report = AgreementReport(c.table)
    #expect(report.fleissExcludedItems == c.ratings.count - c.complete_items)
    let est = try report.fleiss.get()
    #expect(est.n == c.complete_items)
    #expect(close(est.kappa, c.statsmodels_fleiss))
    let irr = try #require(c.irrcac_fleiss)
    #expect(close(est.kappa, irr.kappa))
    #expect(close(est.se, irr.se))
    #expect(close(est.po, irr.pa))
    #expect(close(est.pe, irr.pe))
    #expect(close(est.se0, c.fleiss_se0))
  }

  @Test(arguments: multiRaterCases)
  func pairwiseAndLightsKappaMatchSklearn(_ c: MultiRaterCase) {
    let report = AgreementReport(c.table)
    #expect(report.pairwise.count == c.pairwise.count)
    for (ours, ref) in zip(report.pairwise, c.pairwise) {
      #expect(ours.a == ref.a && ours.b == ref.b && ours.n == ref.n)
      #expect(close(ours.kappa.value, ref.kappa))
    }
    #expect(close(report.lightsKappa.value, c.lights_kappa))
  }

  /// Krippendorff (2011): alpha nominal 0.743, ordinal 0.815 on his 4 × 12 example.
  @Test func krippendorffPublishedExample() throws {
    let c = try #require(multiRaterCases.first { $0.name == "krippendorff_2011" })
    let p = try #require(c.published)
    let report = AgreementReport(c.table)
    let nominal = try report.krippendorffNominal.get()
    let ordinal = try report.krippendorffOrdinal.get()
    #expect(roundsTo(nominal, try #require(p["krippendorff_nominal"]?.number), digits: 3))
    #expect(roundsTo(ordinal, try #require(p["krippendorff_ordinal"]?.number), digits: 3))
    // irrCAC's documentation prints AC1 0.77544 (se 0.14295) for the same data.
    let ac1 = try report.gwetAC1.get()
    #expect(roundsTo(ac1.ac1, try #require(p["irrcac_doc_gwet_ac1"]?.number), digits: 5))
    #expect(roundsTo(try #require(ac1.se), try #require(p["irrcac_doc_gwet_se"]?.number), digits: 5))
  }

  /// Fleiss (1971): kappa 0.430 on 30 patients × 6 psychiatrists; R irr's z 17.65183.
  @Test func fleissPublishedExample() throws {
    let c = try #require(multiRaterCases.first { $0.name == "fleiss_1971" })
    let p = try #require(c.published)
    let est = try AgreementReport(c.table).fleiss.get()
    #expect(roundsTo(est.kappa, try #require(p["fleiss_kappa"]?.number), digits: 3))
    #expect(roundsTo(est.kappa, try #require(p["fleiss_kappa_r_irr"]?.number), digits: 7))
    #expect(roundsTo(try #require(est.z), try #require(p["fleiss_z_r_irr"]?.number), digits: 5))
  }
}
