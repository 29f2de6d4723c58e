import Foundation
import Testing

@testable import Agreement

/// Degenerate data gives a null with a reason: never a crash, never NaN.
@Suite struct UndefinedTests {
  func table(_ raters: [String], _ rows: [[Int32]], k: Int = 3) -> RatingTable {
    RatingTable(
      categories: (0..<k).map { "c\($0)" }, raters: raters, items: rows.indices.map { "i\($0)" },
      codes: rows.flatMap { $0 })
  }

  /// Every Double reachable in the report is finite.
  func expectNoNaN(_ r: AgreementReport) {
    var values: [Double] = []
    if let t = r.twoRater {
      if let c = t.cohen.value { values += [c.kappa, c.se, c.po, c.pe, c.ci95.lower, c.ci95.upper] }
      if let v = t.scottPi.value { values.append(v) }
      if let v = t.pabak.value { values.append(v) }
      values += t.specificAgreement.compactMap(\.value)
    }
    if let f = r.fleiss.value { values += [f.kappa, f.po, f.pe] + [f.se, f.se0, f.z].compactMap { $0 } }
    if let g = r.gwetAC1.value { values += [g.ac1, g.pa, g.pe] + [g.se].compactMap { $0 } }
    values += [r.krippendorffNominal.value, r.krippendorffOrdinal.value, r.lightsKappa.value].compactMap {
      $0
    }
    values += r.pairwise.compactMap(\.kappa.value)
    #expect(values.allSatisfy { $0.isFinite })
  }

  @Test func bothRatersUsedOneCategory() throws {
    let r = AgreementReport(
      table(["A", "B"], Array(repeating: [1, 1], count: 8)), options: .init(bootstrapSamples: 50))
    let two = try #require(r.twoRater)
    let u = try #require(two.cohen.undefined)
    #expect(u.statistic == "cohen.kappa")
    #expect(u.reason.contains("p_e = 1"))
    #expect(two.scottPi.value == nil)
    #expect(r.fleiss.value == nil)
    #expect(r.krippendorffNominal.value == nil)
    // AC1 and PABAK stay defined: that is their point.
    #expect(two.gwetAC1.value?.ac1 == 1)
    #expect(two.pabak.value == 1)
    #expect(r.undefined.contains { $0.statistic == "cohen.kappa" })
    #expect(r.undefined.contains { $0.statistic == "bootstrap_ci95" })
    // Categories nobody used have no specific agreement.
    #expect(two.specificAgreement[0].undefined?.reason == "neither rater used c0")
    expectNoNaN(r)
  }

  @Test func singleRater() {
    let r = AgreementReport(table(["A"], [[0], [1], [2]]), options: .init(bootstrapSamples: 10))
    #expect(r.twoRater == nil)
    #expect(r.pairwise.isEmpty)
    for key in ["cohen", "scott_pi", "pabak", "confusion", "fleiss.kappa", "gwet_ac1", "lights_kappa"] {
      #expect(r.undefined.contains { $0.statistic == key }, "\(key)")
    }
    #expect(r.undefined.allSatisfy { !$0.reason.isEmpty })
    expectNoNaN(r)
  }

  @Test func noOverlappingItems() throws {
    let m = RatingTable.missing
    let r = AgreementReport(table(["A", "B"], [[0, m], [1, m], [m, 2], [m, 0]]))
    let two = try #require(r.twoRater)
    #expect(two.confusion.n == 0)
    #expect(two.cohen.undefined?.reason == "no items were labelled by both raters")
    #expect(two.gwetAC1.value == nil)
    #expect(two.pabak.value == nil)
    #expect(r.krippendorffNominal.undefined?.reason == "no item has two or more ratings")
    #expect(r.fleiss.undefined != nil)
    #expect(r.lightsKappa.undefined != nil)
    expectNoNaN(r)
  }

  @Test func oneRaterConstantHasKappaZeroAndNoZ() throws {
    let est = try cohenKappa(ConfusionMatrix(k: 2, rows: [0, 0, 0, 0], cols: [0, 1, 0, 1])).get()
    #expect(abs(est.kappa) < 1e-15)
    #expect(est.z == nil && est.se0 == nil)
    #expect(est.undefinedParts.map(\.statistic) == ["cohen.z"])
  }

  @Test func threeRatersMarkTwoRaterStatisticsUndefined() {
    let r = AgreementReport(
      table(["A", "B", "C"], [[0, 0, 1], [1, 1, 1], [2, 2, 2], [0, 1, 0]]),
      options: .init(weights: try! AgreementWeights.linear(3).get()))
    #expect(r.twoRater == nil)
    let cohen = r.undefined.first { $0.statistic == "cohen" }
    #expect(cohen?.reason.contains("3 raters") == true)
    #expect(r.undefined.contains { $0.statistic == "weighted" })
    #expect(r.fleiss.value != nil)
  }

  @Test func fleissNeedsCompleteItems() throws {
    let m = RatingTable.missing
    let r = AgreementReport(table(["A", "B", "C"], [[0, 0, 1], [1, 1, m], [2, 2, 2], [0, 1, 0]]))
    #expect(r.fleissExcludedItems == 1)
    #expect(try r.fleiss.get().n == 3)
  }

  @Test func emptyMasks() throws {
    let e = try InstanceMap(width: 3, height: 3, labels: Array(repeating: 0, count: 9))
    let m = try MaskAgreement(reference: e, other: e)
    #expect(m.dice.undefined?.reason == "both masks are empty")
    #expect(m.aji.value == nil && m.ajiPlus.value == nil && m.pq.value == nil)
    #expect(m.undefined.count == 10)
  }
}
