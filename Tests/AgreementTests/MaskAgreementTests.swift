import Foundation
import Testing

@testable import Agreement

/// Mask agreement against the fixture script's numpy/scipy reference, and a hand-worked case.
@Suite struct MaskAgreementTests {
  @Test(arguments: maskCases)
  func matchesTheReference(_ c: MaskCase) throws {
    let a = try InstanceMap(width: c.width, height: c.height, labels: c.a)
    let b = try InstanceMap(width: c.width, height: c.height, labels: c.b)
    let m = try MaskAgreement(reference: a, other: b)
    let e = c.expected
    #expect(m.areaA == e.area_a && m.areaB == e.area_b && m.intersection == e.intersection)
    #expect(close(m.dice.value, e.dice))
    #expect(close(m.iou.value, e.iou))
    #expect(m.nucleiA == e.nuclei_a && m.nucleiB == e.nuclei_b && m.truePositives == e.tp)
    #expect(m.matches.count == e.matches.count)
    for (ours, ref) in zip(m.matches, e.matches) {
      #expect(Double(ours.a) == ref[0] && Double(ours.b) == ref[1])
      #expect(close(ours.iou, ref[2]))
    }
    #expect(close(m.precision.value, e.precision))
    #expect(close(m.recall.value, e.recall))
    #expect(close(m.f1.value, e.f1))
    #expect(close(m.sq.value, e.sq))
    #expect(close(m.dq.value, e.dq))
    #expect(close(m.pq.value, e.pq))
    #expect(close(m.aji.value, e.aji))
    #expect(close(m.ajiPlus.value, e.aji_plus))
    // Every null comes with a reason.
    let nulls = [m.dice, m.iou, m.precision, m.recall, m.f1, m.sq, m.dq, m.pq, m.aji, m.ajiPlus]
      .filter { $0.value == nil }.count
    #expect(m.undefined.count == nulls)
  }

  /// A 6 × 4 example worked by hand.
  ///
  ///     a: 1 1 1 0 0 0      b: 5 5 0 0 0 0
  ///        1 1 1 0 2 2         5 5 0 0 7 7
  ///        0 0 0 0 2 2         0 0 0 0 7 7
  ///        0 0 0 0 0 0         0 0 0 0 0 9
  ///
  /// Nucleus 1 (area 6) and 5 (area 4): intersection 4, union 6, IoU 2/3 → match.
  /// Nucleus 2 (area 4) and 7 (area 4): identical, IoU 1 → match. Nucleus 9 (area 1): FP.
  /// Pixels: |A| = 10, |B| = 9, |A∩B| = 8: Dice 16/19, IoU 8/11.
  /// P = 2/3, R = 1, F1 = 4/5; SQ = (2/3 + 1)/2 = 5/6; PQ = 5/6 · 4/5 = 2/3.
  /// AJI: C = 4 + 4 = 8, U = 6 + 4 + 1 (unused 9) = 11 → 8/11 (= AJI+ here).
  @Test func handWorkedExample() throws {
    let a = try InstanceMap(
      width: 6, height: 4,
      labels: [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 2, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0])
    let b = try InstanceMap(
      width: 6, height: 4,
      labels: [5, 5, 0, 0, 0, 0, 5, 5, 0, 0, 7, 7, 0, 0, 0, 0, 7, 7, 0, 0, 0, 0, 0, 9])
    let m = try MaskAgreement(reference: a, other: b)
    #expect(close(m.dice.value, 16.0 / 19))
    #expect(close(m.iou.value, 8.0 / 11))
    #expect(m.matches.map { [$0.a, $0.b] } == [[1, 5], [2, 7]])
    #expect(m.truePositives == 2 && m.falsePositives == 1 && m.falseNegatives == 0)
    #expect(close(m.precision.value, 2.0 / 3))
    #expect(close(m.recall.value, 1))
    #expect(close(m.f1.value, 0.8))
    #expect(close(m.sq.value, 5.0 / 6))
    #expect(close(m.pq.value, 2.0 / 3))
    #expect(close(m.aji.value, 8.0 / 11))
    #expect(close(m.ajiPlus.value, 8.0 / 11))
    #expect(m.undefined.isEmpty)
  }

  /// IoU exactly 0.5 is not a match (strictly greater).
  @Test func iouOfExactlyOneHalfDoesNotMatch() throws {
    // a: 2 pixels, b: 1 of them → IoU 1/2.
    let a = try InstanceMap(width: 2, height: 1, labels: [1, 1])
    let b = try InstanceMap(width: 2, height: 1, labels: [1, 0])
    let m = try MaskAgreement(reference: a, other: b)
    #expect(m.truePositives == 0)
    #expect(m.sq.value == nil)
    #expect(m.pq.value == 0)
  }

  @Test func sizeMismatchAndBadLabelsAreErrors() throws {
    let a = try InstanceMap(width: 2, height: 2, labels: [0, 1, 1, 0])
    let b = try InstanceMap(width: 4, height: 1, labels: [0, 1, 1, 0])
    #expect(throws: MaskInputError.sizeMismatch(a: (2, 2), b: (4, 1))) {
      try MaskAgreement(reference: a, other: b)
    }
    #expect(throws: MaskInputError.negativeLabel(-3)) {
      try InstanceMap(width: 2, height: 1, labels: [-3, 0])
    }
    #expect(throws: MaskInputError.shape(width: 2, height: 2, count: 3)) {
      try InstanceMap(width: 2, height: 2, labels: [0, 0, 0])
    }
  }
}

/// The Hungarian solver against brute force over all assignments.
@Suite struct LinearAssignmentTests {
  func bruteForce(_ cost: [Double], _ rows: Int, _ cols: Int) -> Double {
    // Minimum over injective maps from the smaller side into the larger.
    let n = min(rows, cols)
    let m = max(rows, cols)
    func c(_ i: Int, _ j: Int) -> Double { rows <= cols ? cost[i * cols + j] : cost[j * cols + i] }
    var best = Double.infinity
    var used = [Bool](repeating: false, count: m)
    func go(_ i: Int, _ acc: Double) {
      if i == n {
        best = min(best, acc)
        return
      }
      for j in 0..<m where !used[j] {
        used[j] = true
        go(i + 1, acc + c(i, j))
        used[j] = false
      }
    }
    go(0, 0)
    return best
  }

  @Test func optimalOnRandomMatrices() {
    var rng = Xoshiro256StarStar(seed: 11)
    for trial in 0..<200 {
      let rows = 1 + Int(rng.below(5))
      let cols = 1 + Int(rng.below(5))
      let cost = (0..<(rows * cols)).map { _ in Double(rng.below(1000)) / 100 - 5 }
      let assignment = linearAssignment(cost: cost, rows: rows, cols: cols)
      let chosen = assignment.enumerated().compactMap { i, j in j.map { (i, $0) } }
      #expect(chosen.count == min(rows, cols), "trial \(trial)")
      #expect(Set(chosen.map(\.1)).count == chosen.count, "columns used once")
      let total = chosen.reduce(0.0) { $0 + cost[$1.0 * cols + $1.1] }
      #expect(abs(total - bruteForce(cost, rows, cols)) < 1e-9, "trial \(trial): \(rows)x\(cols)")
    }
  }
}

/// Pooling over images: the summary of two images equals one image holding both side by side
/// (for every pooled statistic, since nuclei never touch across the seam).
@Suite struct MaskAgreementSummaryTests {
  @Test(arguments: 0..<5)
  func pooledEqualsTheConcatenatedImage(seed: Int) throws {
    let cases = maskCases.filter { $0.width == 72 && $0.height == 64 }
    try #require(cases.count >= 4)
    let x = cases[seed % cases.count]
    let y = cases[(seed + 1) % cases.count]
    let mx = try MaskAgreement(
      reference: InstanceMap(width: 72, height: 64, labels: x.a),
      other: InstanceMap(width: 72, height: 64, labels: x.b))
    let my = try MaskAgreement(
      reference: InstanceMap(width: 72, height: 64, labels: y.a),
      other: InstanceMap(width: 72, height: 64, labels: y.b))
    // Side by side with a background column between, labels of y offset so they stay distinct.
    func join(_ l: [Int32], _ r: [Int32]) -> [Int32] {
      let offset = (l.max() ?? 0) + 1
      var out: [Int32] = []
      for row in 0..<64 {
        out += l[(row * 72)..<((row + 1) * 72)]
        out.append(0)
        out += r[(row * 72)..<((row + 1) * 72)].map { $0 == 0 ? 0 : $0 + offset }
      }
      return out
    }
    let joined = try MaskAgreement(
      reference: InstanceMap(width: 145, height: 64, labels: join(x.a, y.a)),
      other: InstanceMap(width: 145, height: 64, labels: join(x.b, y.b)))
    let s = MaskAgreementSummary([mx, my])
    #expect(s.images == 2)
    #expect(close(s.pooledDice.value, joined.dice.value, 1e-12))
    #expect(close(s.pooledIoU.value, joined.iou.value, 1e-12))
    #expect(close(s.pooledPrecision.value, joined.precision.value, 1e-12))
    #expect(close(s.pooledRecall.value, joined.recall.value, 1e-12))
    #expect(close(s.pooledF1.value, joined.f1.value, 1e-12))
    #expect(close(s.pooledSQ.value, joined.sq.value, 1e-12))
    #expect(close(s.pooledPQ.value, joined.pq.value, 1e-12))
    #expect(close(s.pooledAJI.value, joined.aji.value, 1e-12))
    #expect(close(s.pooledAJIPlus.value, joined.ajiPlus.value, 1e-12))
    #expect(close(s.meanDice.value.value, ((mx.dice.value ?? 0) + (my.dice.value ?? 0)) / 2, 1e-12))
    #expect(close(s.meanAJI.value.value, ((mx.aji.value ?? 0) + (my.aji.value ?? 0)) / 2, 1e-12))
  }

  @Test func emptyImagesAreLeftOutOfMeansAndCounted() throws {
    let e = try InstanceMap(width: 2, height: 1, labels: [0, 0])
    let f = try InstanceMap(width: 2, height: 1, labels: [1, 1])
    let s = MaskAgreementSummary([
      try MaskAgreement(reference: e, other: e), try MaskAgreement(reference: f, other: f),
    ])
    #expect(s.meanDice.images == 1 && s.meanDice.value.value == 1)
    #expect(s.pooledDice.value == 1)
    let none = MaskAgreementSummary([])
    #expect(none.pooledDice.undefined?.reason == "there are no images")
    #expect(none.undefined.count == 15)
  }
}
