import Foundation
import Testing

@testable import NeuralEngine

@Test("softmax cross-entropy: hand values, extreme logits, weights, ignored labels")
func softmaxCrossEntropyValues() {
  let ce = SoftmaxCrossEntropy(classes: 3)
  // Equal logits: loss log 3, gradient softmax − onehot = (1/3, −2/3, 1/3).
  let (l, g) = ce(Tensor(shape: [1, 3], values: [0, 0, 0]), labels: [1])
  #expect(abs(l - logf(3)) < 1e-6)
  #expect(maxRelativeDifference(g.array, [1.0 / 3, -2.0 / 3, 1.0 / 3]) < 1e-5)
  // Logits of 1000 would overflow a naive exp; the loss is exactly the margin.
  let (big, gb) = ce(Tensor(shape: [1, 3], values: [1000, 0, -1000]), labels: [1])
  #expect(abs(big - 1000) < 1e-3)
  #expect(gb.array.allSatisfy { $0.isFinite })
  // Weighted mean: rows with labels 0 (w 1) and 2 (w 3), equal logits: (1·log3 + 3·log3)/4.
  let wce = SoftmaxCrossEntropy(classes: 3, classWeights: [1, 2, 3])
  let (lw, _) = wce(Tensor(shape: [2, 3], values: [0, 0, 0, 0, 0, 0]), labels: [0, 2])
  #expect(abs(lw - logf(3)) < 1e-6)
  // Ignored rows contribute nothing.
  let (li, gi) = ce(Tensor(shape: [2, 3], values: [5, 1, 0, 0, 0, 0]), labels: [-1, 0])
  #expect(abs(li - logf(3)) < 1e-6)
  #expect(gi.array[0..<3].allSatisfy { $0 == 0 })
}

@Test("softmax cross-entropy gradient matches finite differences")
func softmaxCrossEntropyGradient() {
  let ce = SoftmaxCrossEntropy(classes: 4, classWeights: [1, 0.5, 2, 1])
  let z = randomTensor([5, 4], seed: 1, scale: 3)
  let labels = [0, 3, 2, -1, 1]
  let g = ce(z, labels: labels).gradient.array
  let idx = Array(0..<20)
  let num = numericGradient(of: z, at: idx, eps: 1e-2) { Double(ce(z, labels: labels).loss) }
  #expect(relativeError(num, idx.map { Double(g[$0]) }) < 2e-3)
}

@Test("BCE with logits: hand values, stability and gradient")
func bceWithLogits() {
  let bce = BCEWithLogits()
  #expect(
    abs(bce(Tensor(shape: [1], values: [0]), targets: Tensor(shape: [1], values: [1])).loss - logf(2)) < 1e-6)
  #expect(
    abs(bce(Tensor(shape: [1], values: [100]), targets: Tensor(shape: [1], values: [0])).loss - 100) < 1e-4)
  #expect(abs(bce(Tensor(shape: [1], values: [-100]), targets: Tensor(shape: [1], values: [0])).loss) < 1e-6)
  let z = randomTensor([3, 4], seed: 2, scale: 4)
  let y = randomTensor([3, 4], seed: 3)
  for i in 0..<y.count { y[i] = y[i] > 0 ? 1 : 0 }
  let weighted = BCEWithLogits(positiveWeight: 2.5)
  let g = weighted(z, targets: y).gradient.array
  let idx = Array(0..<12)
  let num = numericGradient(of: z, at: idx, eps: 1e-2) { Double(weighted(z, targets: y).loss) }
  #expect(relativeError(num, idx.map { Double(g[$0]) }) < 2e-3)
}

@Test("hierarchical loss: probabilities sum to one, hand values, gradient")
func hierarchicalLoss() {
  // m = 0, s = 0: P(benign) = 1/2, each subtype 1/6.
  let m = Tensor(shape: [2, 1], values: [0, 0])
  let s = Tensor(shape: [2, 3], values: [0, 0, 0, 0, 0, 0])
  let loss = HierarchicalLoss(subtypes: 3)
  #expect(abs(loss(malignant: m, subtypes: s, labels: [0, 0]).loss - logf(2)) < 1e-6)
  #expect(abs(loss(malignant: m, subtypes: s, labels: [2, 2]).loss - logf(6)) < 1e-6)
  let mr = randomTensor([4, 1], seed: 4, scale: 5)
  let sr = randomTensor([4, 3], seed: 5, scale: 5)
  let lp = HierarchicalLoss.logProbabilities(malignant: mr, subtypes: sr)
  for r in 0..<4 {
    let total = (0..<4).map { exp(Double(lp[r * 4 + $0])) }.reduce(0, +)
    #expect(abs(total - 1) < 1e-5)
  }
  // A confident benign logit far outside exp's range still gives a finite loss.
  let extreme = loss(
    malignant: Tensor(shape: [1, 1], values: [-500]), subtypes: Tensor(shape: [1, 3], values: [0, 0, 0]),
    labels: [3])
  #expect(extreme.loss.isFinite && abs(extreme.loss - (500 + logf(3))) < 1e-2)
  let weighted = HierarchicalLoss(subtypes: 3, classWeights: [2, 1, 1, 0.5])
  let labels = [0, 1, 3, 2]
  let r = weighted(malignant: mr, subtypes: sr, labels: labels)
  let gm = r.malignantGradient.array
  let gs = r.subtypeGradient.array
  let f = { Double(weighted(malignant: mr, subtypes: sr, labels: labels).loss) }
  let nm = numericGradient(of: mr, at: Array(0..<4), eps: 1e-2, f)
  let ns = numericGradient(of: sr, at: Array(0..<12), eps: 1e-2, f)
  #expect(relativeError(nm, gm.map(Double.init)) < 2e-3)
  #expect(relativeError(ns, gs.map(Double.init)) < 2e-3)
}

@Test("binary focal loss: hand value, balanced weight, stability, gradient")
func binaryFocalLoss() {
  let fl = BinaryFocalLoss(gamma: 2)
  // One foreground pixel at z = 0 with a = 3: −3·(1/2)²·log(1/2) = 0.75·log 2.
  let one = fl(
    Tensor(shape: [1, 1], values: [0]), targets: Tensor(shape: [1, 1], values: [1]), positiveWeight: 3)
  #expect(abs(one.loss - 0.75 * logf(2)) < 1e-6)
  // Background at z = 0, b = 1: −(1/2)²·log(1/2).
  let bg = fl(
    Tensor(shape: [1, 1], values: [0]), targets: Tensor(shape: [1, 1], values: [0]), positiveWeight: 3)
  #expect(abs(bg.loss - 0.25 * logf(2)) < 1e-6)
  // a = N_b / N_f.
  let t = Tensor(shape: [2, 1, 2, 2], values: [1, 0, 0, 0, 1, 1, 0, 0])
  #expect(BinaryFocalLoss.balancedWeight(targets: t) == Float(5.0 / 3.0))
  #expect(BinaryFocalLoss.balancedWeight(targets: t, include: [true, false]) == 3)
  // Extreme logits stay finite (log p of a very wrong pixel is −|z|).
  let ex = fl(
    Tensor(shape: [1, 2], values: [-200, 200]), targets: Tensor(shape: [1, 2], values: [1, 0]),
    positiveWeight: 1)
  #expect(ex.loss.isFinite && abs(ex.loss - 200) < 1e-2)
  #expect(ex.gradient.array.allSatisfy { $0.isFinite })
  let z = randomTensor([3, 1, 4, 4], seed: 6, scale: 3)
  let y = randomTensor([3, 1, 4, 4], seed: 7)
  for i in 0..<y.count { y[i] = y[i] > 0.3 ? 1 : 0 }
  for gamma: Float in [2, 1.5, 0] {
    let loss = BinaryFocalLoss(gamma: gamma)
    let include = [true, false, true]
    let g = loss(z, targets: y, positiveWeight: 2.2, negativeWeight: 0.7, include: include).gradient.array
    #expect(g[16..<32].allSatisfy { $0 == 0 })
    let idx = Array(0..<48)
    let num = numericGradient(of: z, at: idx, eps: 1e-2) {
      Double(loss(z, targets: y, positiveWeight: 2.2, negativeWeight: 0.7, include: include).loss)
    }
    #expect(relativeError(num, idx.map { Double(g[$0]) }) < 2e-3, "gamma \(gamma)")
  }
}
