import Foundation
import Testing

@testable import NeuralEngine

/// Issue 17's Dice + BCE mask loss: a hand value, an independent double-precision computation of
/// the weighted loss, the weights and the images left out, stability, and the gradient against
/// central differences (the PyTorch reference is checked in ModelParityTests' `all4_stem`).
@Suite struct DiceBCELossTests {
  /// Σ_i w_i (bce_i + dice_i) / Σ_i w_i in Double, straight from the definition.
  static func reference(_ z: [Float], _ y: [Float], per: Int, weights: [Double]) -> Double {
    var sum = 0.0
    var wsum = 0.0
    for (i, w) in weights.enumerated() where w > 0 {
      var bce = 0.0
      var inter = 0.0
      var ps = 0.0
      var ys = 0.0
      for j in 0..<per {
        let zv = Double(z[i * per + j])
        let yv = Double(y[i * per + j])
        let p = 1 / (1 + exp(-zv))
        bce += -(yv * log(p) + (1 - yv) * log(1 - p))
        inter += p * yv
        ps += p
        ys += yv
      }
      sum += w * (bce / Double(per) + 1 - (2 * inter + 1) / (ps + ys + 1))
      wsum += w
    }
    return sum / wsum
  }

  @Test func oneForegroundPixelAtZeroIsLog2PlusOneFifth() {
    let r = DiceBCELoss()(
      Tensor(shape: [1, 1, 1, 1], values: [0]), targets: Tensor(shape: [1, 1, 1, 1], values: [1]))
    // bce = log 2; p = ½: dice = 1 − (2·½ + 1)/(½ + 1 + 1) = 0.2.
    #expect(abs(r.loss - (logf(2) + 0.2)) < 1e-6)
  }

  @Test func weightedLossMatchesTheDefinitionAndLeavesExcludedImagesOut() {
    let z = randomTensor([3, 1, 5, 5], seed: 11, scale: 3)
    let y = randomTensor([3, 1, 5, 5], seed: 12)
    for i in 0..<y.count { y[i] = y[i] > 0.2 ? 1 : 0 }
    let loss = DiceBCELoss()
    let r = loss(z, targets: y, include: [true, false, true], weights: [3, 7, 0.5])
    let expected = Self.reference(z.array, y.array, per: 25, weights: [3, 0, 0.5])
    #expect(abs(Double(r.loss) - expected) < 1e-5 * max(1, expected))
    #expect(r.gradient.array[25..<50].allSatisfy { $0 == 0 })
    // Unweighted = every weight 1; weights scale only relatively.
    let plain = loss(z, targets: y).loss
    #expect(abs(Double(plain) - Self.reference(z.array, y.array, per: 25, weights: [1, 1, 1])) < 1e-5)
    let doubled = loss(z, targets: y, weights: [2, 2, 2]).loss
    #expect(abs(doubled - plain) < 1e-6)
    // Nothing counted: zero loss, zero gradient.
    let none = loss(z, targets: y, include: [false, false, false])
    #expect(none.loss == 0 && none.gradient.array.allSatisfy { $0 == 0 })
  }

  @Test func extremeLogitsStayFinite() {
    let r = DiceBCELoss()(
      Tensor(shape: [1, 2], values: [-200, 200]), targets: Tensor(shape: [1, 2], values: [1, 0]))
    // bce = (200 + 200)/2; p = (0, 1): dice = 1 − 1/(1 + 1 + 1).
    #expect(r.loss.isFinite && abs(r.loss - (200 + 2.0 / 3)) < 1e-2)
    #expect(r.gradient.array.allSatisfy { $0.isFinite })
  }

  @Test func gradientMatchesFiniteDifferences() {
    let z = randomTensor([3, 1, 4, 4], seed: 6, scale: 2)
    let y = randomTensor([3, 1, 4, 4], seed: 7)
    for i in 0..<y.count { y[i] = y[i] > 0.3 ? 1 : 0 }
    let loss = DiceBCELoss()
    let include = [true, false, true]
    let weights: [Float] = [2.5, 1, 0.75]
    let g = loss(z, targets: y, include: include, weights: weights).gradient.array
    let idx = Array(0..<48)
    let num = numericGradient(of: z, at: idx, eps: 1e-2) {
      Double(loss(z, targets: y, include: include, weights: weights).loss)
    }
    #expect(relativeError(num, idx.map { Double(g[$0]) }) < 2e-3)
  }
}
