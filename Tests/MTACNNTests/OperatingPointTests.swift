import Foundation
import NeuralEngine
import Testing

@testable import MTACNN

/// Issue 17's screening operating point: the threshold rule against hand-computed fixtures and
/// a brute-force search over every candidate threshold, the counts and curves against direct
/// counting and the Mann-Whitney statistic, and the checkpoint metadata it lives in.
@Suite struct OperatingPointTests {
  /// Brute force, independent of `choose`: every distinct score (and +∞) is a candidate; keep
  /// the largest whose sensitivity, counted directly, reaches the target.
  static func bruteForce(_ p: [Double], _ m: [Bool], target: Double) -> Double? {
    let n = m.filter { $0 }.count
    guard n > 0 else { return nil }
    var best: Double? = nil
    for t in Set(p) {
      var caught = 0
      for (x, y) in zip(p, m) where y && x >= t { caught += 1 }
      // Integer comparison: caught / n >= target, with the same 1e-9 slack as the rule.
      if Double(caught) >= target * Double(n) - 1e-9, t > (best ?? -1) { best = t }
    }
    return best
  }

  @Test func handComputedThresholdsAndTies() throws {
    // Ten malignant scores; the target 0.9 needs 9 of 10: the 9th highest, 0.2.
    let mal = [0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.2, 0.05]
    let ben = [0.01, 0.02, 0.2, 0.3]
    let p = mal + ben
    let m = mal.map { _ in true } + ben.map { _ in false }
    let op = try #require(
      OperatingPoint.choose(pMalignant: p, isMalignant: m, targetSensitivity: 0.9, split: "val"))
    #expect(op.threshold == 0.2)
    #expect(op.sensitivity == 0.9)
    // 0.2 and 0.3 reach it (a benign score tied with the threshold is a false alarm): 2 of 4 cleared.
    #expect(op.specificity == 0.5)
    #expect(op.malignant == 10 && op.benign == 4)
    // Target 1: every malignant image, down to 0.05; 0.995 of 10 also needs all 10.
    #expect(
      OperatingPoint.choose(pMalignant: p, isMalignant: m, targetSensitivity: 1, split: "val")?.threshold
        == 0.05)
    #expect(
      OperatingPoint.choose(pMalignant: p, isMalignant: m, targetSensitivity: 0.995, split: "val")?.threshold
        == 0.05)
    // 0.995 of 200 is exactly 199 (floating point says 199.00000000000003): one may be missed.
    let many = (0..<200).map { Double($0 + 1) / 201 }
    let op200 = try #require(
      OperatingPoint.choose(
        pMalignant: many, isMalignant: many.map { _ in true }, targetSensitivity: 0.995, split: "val"))
    #expect(op200.threshold == many[1])
    #expect(op200.sensitivity == 0.995)
    // Ties at the k-th score are all caught: sensitivity above the target.
    let tied = [0.9, 0.5, 0.5, 0.5]
    let opTied = try #require(
      OperatingPoint.choose(
        pMalignant: tied, isMalignant: [true, true, true, true], targetSensitivity: 0.5, split: "val"))
    #expect(opTied.threshold == 0.5)
    #expect(opTied.sensitivity == 1)
    // No malignant image, or a target outside (0, 1]: no point.
    #expect(
      OperatingPoint.choose(pMalignant: [0.1], isMalignant: [false], targetSensitivity: 0.9, split: "val")
        == nil)
    #expect(
      OperatingPoint.choose(pMalignant: [0.1], isMalignant: [true], targetSensitivity: 0, split: "val") == nil
    )
    #expect(
      OperatingPoint.choose(pMalignant: [0.1], isMalignant: [true], targetSensitivity: 1.5, split: "val")
        == nil)
  }

  @Test func matchesBruteForceOnSeededData() throws {
    var rng = SplitMix64(seed: 17)
    for trial in 0..<200 {
      let n = 1 + Int(rng.next() % 60)
      // Scores on a coarse grid so ties are common.
      let p = (0..<n).map { _ in Double(rng.next() % 21) / 20 }
      let m = (0..<n).map { _ in rng.unit() < 0.7 }
      let target = [0.5, 0.9, 0.95, 0.995, 1][trial % 5]
      let chosen = OperatingPoint.choose(
        pMalignant: p, isMalignant: m, targetSensitivity: target, split: "val")
      #expect(chosen?.threshold == Self.bruteForce(p, m, target: target), "trial \(trial)")
      if let c = chosen {
        #expect(c.sensitivity >= target - 1e-9)
        let counts = ScreeningCounts(pMalignant: p, isMalignant: m, threshold: c.threshold)
        #expect(counts.caught + counts.missed == m.filter { $0 }.count)
        #expect(c.sensitivity == counts.sensitivity)
        #expect(c.specificity == (counts.specificity ?? 0))
      }
    }
  }

  @Test func curvesAgainstMannWhitneyAndHandComputedPrecision() throws {
    var rng = SplitMix64(seed: 3)
    for _ in 0..<50 {
      let n = 2 + Int(rng.next() % 40)
      let p = (0..<n).map { _ in Double(rng.next() % 11) / 10 }
      var m = (0..<n).map { _ in rng.unit() < 0.5 }
      m[0] = true
      m[1] = false
      let c = try #require(ScreeningCurves(pMalignant: p, isMalignant: m))
      // AUC = P(score of a malignant > score of a benign) + ½ P(tie), over all pairs.
      var u = 0.0
      var pairs = 0.0
      for (x, mx) in zip(p, m) where mx {
        for (y, my) in zip(p, m) where !my {
          pairs += 1
          u += x > y ? 1 : x == y ? 0.5 : 0
        }
      }
      #expect(abs(c.rocAUC - u / pairs) < 1e-12)
      #expect(c.points.first?.truePositiveRate == 0 && c.points.last?.truePositiveRate == 1)
      #expect(c.points.last?.falsePositiveRate == 1)
    }
    // Hand-computed: scores 0.9 (M), 0.8 (B), 0.7 (M), 0.1 (B).
    let c = try #require(
      ScreeningCurves(pMalignant: [0.9, 0.8, 0.7, 0.1], isMalignant: [true, false, true, false]))
    #expect(c.points.map(\.truePositiveRate) == [0, 0.5, 0.5, 1, 1])
    #expect(c.points.map(\.falsePositiveRate) == [0, 0, 0.5, 0.5, 1])
    // AP = 0.5 · 1 + 0.5 · 2/3.
    #expect(abs(c.averagePrecision - (0.5 + 1.0 / 3)) < 1e-12)
    #expect(abs(c.rocAUC - 0.75) < 1e-12)
    #expect(ScreeningCurves(pMalignant: [0.5], isMalignant: [true]) == nil)
  }

  /// The point is written into a checkpoint's metadata (tensors unchanged) and read back; a
  /// flat model or a malformed value is refused, naming the key.
  @Test func storedInCheckpointMetadata() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("op-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    for name in ["all4", "wbc5"] {
      let path = dir + "/\(name).safetensors"
      try FileManager.default.copyItem(
        atPath: root.appendingPathComponent("Models/\(name).safetensors").path, toPath: path)
      let before = try SafeTensorsFile.read(path: path)
      let op = OperatingPoint(
        threshold: 0.0123, targetSensitivity: 0.995, sensitivity: 0.996, specificity: 0.95, malignant: 234,
        benign: 43, split: "val", command: "blastview eval ...")
      try ModelCheckpoint.rewriteMetadata(path: path) { $0[OperatingPoint.metadataKey] = op.encoded() }
      let after = try SafeTensorsFile.read(path: path)
      #expect(after.entries.map(\.name) == before.entries.map(\.name))
      for e in before.entries.prefix(5) {
        #expect(try after.floats(e.name) == before.floats(e.name))
      }
      if name == "all4" {
        #expect(try ModelCheckpoint.metadata(of: after).operatingPoint == op)
        try ModelCheckpoint.rewriteMetadata(path: path) {
          $0[OperatingPoint.metadataKey] = #"{"threshold": 2}"#
        }
        #expect(throws: ModelError.self) {
          try ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: path))
        }
      } else {
        // wbc5 is flat: no malignant group, so a point there is an error, not ignored.
        do {
          _ = try ModelCheckpoint.metadata(of: after)
          Issue.record("a flat model with an operating point was accepted")
        } catch {
          #expect("\(error)".contains("flat"))
        }
      }
    }
  }

  /// Independent of `choose`: every distinct score, and the midpoints between neighbours, is a
  /// candidate; keep the lowest candidate at which the benign images above count within the
  /// budget, counted directly. (The rule puts its threshold on a midpoint, so the lowest feasible
  /// midpoint is what it must find.)
  static func bruteForceSpecificity(_ p: [Double], _ m: [Bool], minSpecificity s: Double) -> Double? {
    let benign = m.filter { !$0 }.count
    guard benign > 0 else { return nil }
    let distinct = Set(p).sorted()
    var midpoints = zip(distinct, distinct.dropFirst()).map { ($0 + $1) / 2 }
    midpoints.append((distinct.last! + 1) / 2)
    var best: Double? = nil
    for t in midpoints {
      var alarms = 0
      for (x, y) in zip(p, m) where !y && x >= t { alarms += 1 }
      if Double(benign - alarms) >= s * Double(benign) - 1e-9, t < (best ?? 2) { best = t }
    }
    return best
  }

  @Test func specificityFloorLowersTheThresholdByHand() throws {
    // Malignant scores 0.9, 0.8, 0.6; benign 0.7, 0.3, 0.2, 0.1, 0.05 (five benign images).
    let p = [0.9, 0.8, 0.6, 0.7, 0.3, 0.2, 0.1, 0.05]
    let m = [true, true, true, false, false, false, false, false]
    // Sensitivity alone (target 0.6 of 3 = 2): 0.8, above the benign 0.7.
    let plain = try #require(
      OperatingPoint.choose(pMalignant: p, isMalignant: m, targetSensitivity: 0.6, split: "val"))
    #expect(plain.threshold == 0.8 && plain.minSpecificity == nil)
    // Specificity >= 0.6 of 5 benign: 2 false alarms allowed (0.7 and 0.3), 0.2 must be cleared:
    // halfway from 0.2 to the next score above it (0.3): 0.25. Every malignant image is caught.
    let floor = try #require(
      OperatingPoint.choose(
        pMalignant: p, isMalignant: m, targetSensitivity: 0.6, split: "val", minSpecificity: 0.6))
    #expect(abs(floor.threshold - 0.25) < 1e-15)
    #expect(floor.sensitivity == 1 && floor.specificity == 0.6 && floor.minSpecificity == 0.6)
    // Specificity 1: no benign image may reach it: halfway from 0.7 to 0.8, 0.75, lower than the
    // sensitivity rule's 0.8, so it is the point (the same two malignant images caught).
    let strict = try #require(
      OperatingPoint.choose(
        pMalignant: p, isMalignant: m, targetSensitivity: 0.6, split: "val", minSpecificity: 1))
    #expect(abs(strict.threshold - 0.75) < 1e-15 && strict.specificity == 1 && strict.sensitivity == 2.0 / 3)
    // When the floor would need a threshold above the sensitivity rule's, sensitivity wins and
    // the specificity achieved says the floor was not met: target 1 needs 0.6, where 0.7 alarms.
    let both = try #require(
      OperatingPoint.choose(
        pMalignant: p, isMalignant: m, targetSensitivity: 1, split: "val", minSpecificity: 1))
    #expect(both.threshold == 0.6 && both.sensitivity == 1 && both.specificity == 0.8)
    // 0.95 of 40 benign allows exactly 2 (floating point says 2.0000000000000004).
    let benign40 = (0..<40).map { Double($0) / 100 }
    let p40 = [0.99] + benign40
    let m40 = [true] + benign40.map { _ in false }
    let op40 = try #require(
      OperatingPoint.choose(
        pMalignant: p40, isMalignant: m40, targetSensitivity: 1, split: "val", minSpecificity: 0.95))
    #expect(abs(op40.threshold - 0.375) < 1e-12 && op40.specificity == 0.95)
    // A floor outside (0, 1]: no point; the stored key round-trips, and a bad one is refused.
    #expect(
      OperatingPoint.choose(
        pMalignant: p, isMalignant: m, targetSensitivity: 0.6, split: "val", minSpecificity: 0)
        == nil)
    #expect(OperatingPoint.decode(floor.encoded()) == floor)
    #expect(floor.encoded().contains("\"min_specificity\":0.6"))
    #expect(!plain.encoded().contains("min_specificity"))
    #expect(
      OperatingPoint.decode(
        floor.encoded().replacingOccurrences(of: "\"min_specificity\":0.6", with: "\"min_specificity\":1.5"))
        == nil)
    #expect(
      floor.rule == "sensitivity >= 0.600, specificity >= 0.600" && plain.rule == "sensitivity >= 0.600")
  }

  @Test func specificityFloorMatchesBruteForceOnSeededData() throws {
    var rng = SplitMix64(seed: 29)
    for trial in 0..<300 {
      let n = 2 + Int(rng.next() % 60)
      let p = (0..<n).map { _ in Double(rng.next() % 21) / 20 }
      var m = (0..<n).map { _ in rng.unit() < 0.6 }
      m[0] = true
      let target = [0.9, 0.995, 1][trial % 3]
      let floor = [0.5, 0.9, 0.95, 1][trial % 4]
      let plain = try #require(
        OperatingPoint.choose(pMalignant: p, isMalignant: m, targetSensitivity: target, split: "val"))
      let chosen = try #require(
        OperatingPoint.choose(
          pMalignant: p, isMalignant: m, targetSensitivity: target, split: "val", minSpecificity: floor))
      let expected =
        Self.bruteForceSpecificity(p, m, minSpecificity: floor).map { min($0, plain.threshold) }
        ?? plain.threshold
      #expect(abs(chosen.threshold - expected) < 1e-12, "trial \(trial)")
      // The sensitivity target always holds; the floor holds whenever the chosen point is the floor's.
      #expect(chosen.sensitivity >= target - 1e-9 && chosen.sensitivity >= plain.sensitivity)
      let counts = ScreeningCounts(pMalignant: p, isMalignant: m, threshold: chosen.threshold)
      #expect(chosen.specificity == (counts.specificity ?? 0))
      if chosen.threshold < plain.threshold, let sp = counts.specificity {
        #expect(sp >= floor - 1e-9, "trial \(trial)")
      }
    }
  }
}
