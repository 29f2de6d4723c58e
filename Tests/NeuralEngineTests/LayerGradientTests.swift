import Foundation
import Testing

@testable import NeuralEngine
@testable import ReferenceNetwork

/// Values spaced at least `gap` apart (shuffled), so max-pool windows have no near-ties and
/// ReLU inputs stay away from 0 by more than the finite-difference step.
func distinctTensor(_ shape: [Int], seed: UInt64, gap: Float = 0.05) -> Tensor {
  let n = Tensor.count(of: shape)
  var values = (0..<n).map { Float($0) * gap - Float(n) * gap / 2 + gap / 2 }
  var rng = SeededGenerator(seed: seed)
  values.shuffle(using: &rng)
  return Tensor(shape: shape, values: values)
}

@Suite("Finite-difference checks")
struct LayerGradientTests {
  @Test func batchNormTrainingAndInference() {
    func make(_ relu: Bool, _ training: Bool) -> (BatchNorm2D, ParameterStore) {
      let store = ParameterStore(seed: 1)
      let bn = BatchNorm2D(store, name: "bn", group: "g", channels: 3, fusedReLU: relu)
      store.finalize()
      for i in 0..<3 {
        bn.gamma.value[i] = 0.5 + Float(i) * 0.4
        bn.beta.value[i] = 0.315 - Float(i) * 0.2
        bn.runningMean.value[i] = 0.1 * Float(i)
        bn.runningVar.value[i] = 0.8 + 0.3 * Float(i)
      }
      bn.isTraining = training
      return (bn, store)
    }
    let x = distinctTensor([2, 3, 3, 4], seed: 2, gap: 0.07)
    for training in [true, false] {
      // Finite differences need every pre-activation clear of the ReLU kink by more than the
      // step (1e-3) plus what a step in one input moves the batch statistics.
      let plain = make(false, training).0
      #expect(plain.forward(x).array.allSatisfy { abs($0) > 1e-2 })
      for relu in [false, true] {
        let (bn, store) = make(relu, training)
        checkLayerGradients(
          bn, input: x, parameters: [bn.gamma, bn.beta], store: store, eps: 1e-3, tolerance: 5e-3)
      }
    }
  }

  @Test func batchNormRunningStatisticsByHand() {
    let store = ParameterStore()
    let bn = BatchNorm2D(store, name: "bn", group: "g", channels: 1)
    store.finalize()
    // Values 1, 2, 3, 4: mean 2.5, biased variance 1.25, unbiased 5/3.
    let y = bn.forward(Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4]))
    #expect(abs(bn.runningMean.value[0] - 0.25) < 1e-6)
    #expect(abs(bn.runningVar.value[0] - (0.9 + 0.1 * 5 / 3)) < 1e-6)
    #expect(abs(y[0] - (1 - 2.5) / (1.25 + 1e-5).squareRoot()) < 1e-5)
    bn.isTraining = false
    let before = bn.runningMean.value.array
    let z = bn.forward(Tensor(shape: [1, 1, 1, 1], values: [0.25]))
    #expect(abs(z[0]) < 1e-6)
    #expect(bn.runningMean.value.array == before)
  }

  @Test func activations() {
    let x = distinctTensor([3, 20], seed: 3, gap: 0.1)
    checkLayerGradients(ReLU(), input: x, parameters: [], store: ParameterStore(), eps: 1e-3)
    checkLayerGradients(GELU(.exact), input: x, parameters: [], store: ParameterStore(), eps: 1e-3)
    checkLayerGradients(GELU(.tanh), input: x, parameters: [], store: ParameterStore(), eps: 1e-3)
    // GELU by hand: x·Φ(x) at 1 is 0.841345; the tanh form gives 0.841192.
    let g = GELU(.exact).forward(Tensor(shape: [2], values: [1, -1]))
    #expect(abs(g[0] - 0.841_344_7) < 1e-6 && abs(g[1] - -0.158_655_3) < 1e-6)
    let t = GELU(.tanh).forward(Tensor(shape: [1], values: [1]))
    #expect(abs(t[0] - 0.841_192) < 1e-5)
  }

  @Test func poolingAndResampling() {
    let x = distinctTensor([2, 3, 6, 7], seed: 4)
    checkLayerGradients(MaxPool2x2(), input: x, parameters: [], store: ParameterStore(), eps: 1e-3)
    checkLayerGradients(GlobalAvgPool(), input: x, parameters: [], store: ParameterStore())
    for mode: Upsample2x.Mode in [.bilinear(alignCorners: true), .bilinear(alignCorners: false), .nearest] {
      checkLayerGradients(
        Upsample2x(mode), input: randomTensor([2, 2, 3, 4], seed: 5), parameters: [], store: ParameterStore())
    }
    // Bilinear by hand on [0, 1]: align_corners gives 0, 1/3, 2/3, 1; half-pixel gives
    // 0, 0.25, 0.75, 1; nearest gives 0, 0, 1, 1.
    let row = Tensor(shape: [1, 1, 1, 2], values: [0, 1])
    #expect(
      Upsample2x(.bilinear(alignCorners: true)).forward(row).array.prefix(4).map { ($0 * 3).rounded() } == [
        0, 1, 2, 3,
      ])
    #expect(
      Array(Upsample2x(.bilinear(alignCorners: false)).forward(row).array.prefix(4)) == [0, 0.25, 0.75, 1])
    #expect(Array(Upsample2x(.nearest).forward(row).array.prefix(4)) == [0, 0, 1, 1])
    // Max-pool by hand, odd edge dropped.
    let p = MaxPool2x2().forward(Tensor(shape: [1, 1, 2, 3], values: [1, 5, 9, 3, 2, 9]))
    #expect(p.shape == [1, 1, 1, 1] && p[0] == 5)
  }

  @Test func concatAndAdd() {
    let a = randomTensor([2, 2, 3, 3], seed: 6)
    let b = randomTensor([2, 3, 3, 3], seed: 7)
    let cat = Concat()
    let y = cat.forward(a, b)
    #expect(y.shape == [2, 5, 3, 3])
    #expect(Array(y.array[18..<45]) == Array(b.array[0..<27]))
    #expect(Array(y.array[45..<63]) == Array(a.array[18..<36]))
    let dy = randomTensor(y.shape, seed: 8)
    let (da, db) = cat.backward(dy)
    #expect(Array(da.array[0..<18]) == Array(dy.array[0..<18]))
    #expect(Array(db.array[27..<54]) == Array(dy.array[63..<90]))
    let s = Add().forward(a, a)
    #expect(s.array == a.array.map { $0 * 2 })
  }

  @Test func dropout() {
    let d = Dropout(0.3, seed: 11)
    let x = Tensor(shape: [4, 10_000], values: [Float](repeating: 1, count: 40_000))
    let y = d.forward(x)
    let kept = y.array.filter { $0 != 0 }
    // Kept fraction within 4 standard deviations of 0.7; kept values scaled by 1/0.7.
    let frac = Double(kept.count) / 40_000
    #expect(abs(frac - 0.7) < 4 * (0.21 / 40_000).squareRoot())
    #expect(kept.allSatisfy { abs($0 - 1 / 0.7) < 1e-6 })
    // Backward applies the same mask and scale.
    let dy = randomTensor(x.shape, seed: 12)
    let dx = d.backward(dy)
    let mask = d.lastMask
    for i in stride(from: 0, to: 40_000, by: 97) {
      #expect(dx[i] == (mask[i] == 1 ? dy[i] * (1 / Float(0.7)) : 0))
      #expect((y[i] != 0) == (mask[i] == 1))
    }
    // The same seed and call gives the same mask with any thread count; the next call differs.
    let masks = [1, 2].map { t in
      Threads.$scoped.withValue(t) {
        let e = Dropout(0.3, seed: 11)
        _ = e.forward(x)
        return e.lastMask
      }
    }
    #expect(masks[0] == masks[1] && masks[0] == mask)
    _ = d.forward(x)
    #expect(d.lastMask != mask)
    // Inference: identity, no copy.
    d.isTraining = false
    #expect(d.forward(x).data == x.data)
  }

  @Test func layerNormAndPositionEmbedding() {
    let store = ParameterStore(seed: 13)
    let ln = LayerNorm(store, name: "ln", group: "g", features: 6)
    let pos = PositionEmbedding(store, name: "pos", group: "g", tokens: 4, features: 6)
    store.finalize()
    for i in 0..<6 {
      ln.gamma.value[i] = 1 + 0.1 * Float(i)
      ln.beta.value[i] = 0.05 * Float(i)
    }
    let x = randomTensor([3, 4, 6], seed: 14, scale: 2)
    checkLayerGradients(ln, input: x, parameters: [ln.gamma, ln.beta], store: store)
    checkLayerGradients(pos, input: x, parameters: [pos.embedding], store: store)
  }

  @Test func tokens() {
    let x = randomTensor([2, 3, 2, 4], seed: 15)
    let t = ToTokens().forward(x)
    #expect(t.shape == [2, 8, 3])
    // Token (b, y·W + x) holds channel c of pixel (y, x).
    #expect(t[(1 * 8 + 5) * 3 + 2] == x[((1 * 3 + 2) * 2 + 1) * 4 + 1])
    let back = FromTokens(height: 2, width: 4)
    #expect(back.forward(t).array == x.array)
    checkLayerGradients(ToTokens(), input: x, parameters: [], store: ParameterStore())
    checkLayerGradients(
      back, input: randomTensor([2, 8, 3], seed: 16), parameters: [], store: ParameterStore())
  }

  @Test func attentionAndEncoderLayer() {
    let store = ParameterStore(seed: 17)
    let mha = MultiHeadSelfAttention(store, name: "mha", group: "g", features: 8, heads: 2)
    let enc = TransformerEncoderLayer(
      store, name: "enc", group: "h", features: 8, heads: 2, mlp: 12, dropout: 0)
    store.finalize()
    for p in store.parameters where p.name.hasSuffix("bias") {
      for i in 0..<p.count { p.value[i] = 0.05 * Float(i % 7) - 0.1 }
    }
    let x = randomTensor([2, 5, 8], seed: 18)
    checkLayerGradients(mha, input: x, parameters: store.parameters(inGroup: "g"), store: store)
    checkLayerGradients(enc, input: x, parameters: store.parameters(inGroup: "h"), store: store, eps: 5e-3)
  }

  @Test func attentionWithDropoutUsesOneMaskPerCall() {
    let store = ParameterStore(seed: 19)
    let mha = MultiHeadSelfAttention(store, name: "mha", group: "g", features: 8, heads: 2, dropout: 0.25)
    store.finalize()
    let x = randomTensor([2, 5, 8], seed: 20)
    // Replaying the same call index replays the mask, so finite differences apply.
    let fixed = FixedCall(mha)
    checkLayerGradients(fixed, input: x, parameters: store.parameters, store: store)
  }

  @Test func taskConnectionWithConstantsAndFreezing() {
    let store = ParameterStore(seed: 21)
    // Task a reads nothing from b (alpha 0, no parameter); b reads a through a learned alpha;
    // both diagonals are fixed at 1.
    let ttc = TaskConnection(
      store, name: "ttc", groups: ["a", "b"], channels: 2, reads: [[false, false], [true, false]],
      crossBeta: -0.4)
    store.finalize()
    #expect(store.parameters.map(\.name) == ["ttc.beta.1.0"])
    #expect(ttc.betas[0][1] == nil && ttc.betas[0][0] == nil && ttc.constants[0][0] == 1)
    let beta = ttc.betas[1][0]!
    beta.value[1] = 0.7
    let xa = randomTensor([2, 2, 3, 3], seed: 22)
    let xb = randomTensor([2, 2, 3, 3], seed: 23)
    let ys = ttc.forward([xa, xb])
    // Task a's output is its input, bit for bit; b's is x_b + sigmoid(beta)·x_a.
    #expect(ys[0].array == xa.array)
    #expect(abs(ys[1][9] - (xb[9] + sigmoid(0.7) * xa[9])) < 1e-6)
    let ra = randomTensor(ys[0].shape, seed: 24)
    let rb = randomTensor(ys[1].shape, seed: 25)
    store.zeroGradients()
    let dx = ttc.backward([ra, rb], wantInput: [true, true])
    let loss = {
      let y = ttc.forward([xa, xb])
      return projection(y[0], ra) + projection(y[1], rb)
    }
    for (t, g) in [(xa, dx[0]!), (xb, dx[1]!)] {
      let idx = Array(0..<t.count)
      let gv = g.array
      let num = numericGradient(of: t, at: idx, eps: 1e-2, loss)
      #expect(relativeError(num, idx.map { Double(gv[$0]) }) < 2e-3)
    }
    let gb = beta.grad.array
    let num = numericGradient(of: beta.value, at: [0, 1], eps: 1e-2, loss)
    #expect(relativeError(num, gb.map(Double.init)) < 2e-3)
    // A frozen task's betas get no gradient.
    store.freeze("b")
    beta.grad.fill(7)
    _ = ttc.backward([ra, rb], wantInput: [false, false])
    #expect(beta.grad.array.allSatisfy { $0 == 7 })
  }
}

/// Wraps an attention layer so every forward reuses dropout call 0 (for finite differences).
final class FixedCall: Layer {
  let inner: MultiHeadSelfAttention
  init(_ inner: MultiHeadSelfAttention) { self.inner = inner }
  func forward(_ x: Tensor) -> Tensor {
    inner.calls = 0
    return inner.forward(x)
  }
  func backward(_ dy: Tensor) -> Tensor { inner.backward(dy) }
  func outputShape(for s: [Int]) -> [Int] { s }
}

@Test("inference folds batch norm and ReLU into the convolution, and backward still works")
func foldedConvBNReLU() {
  let store = ParameterStore(seed: 40)
  let block = ConvBNReLU(store, convName: "c", normName: "n", group: "g", inChannels: 3, outChannels: 6)
  let wide = ConvBNReLU(store, convName: "w", normName: "m", group: "g", inChannels: 3, outChannels: 6)
  store.finalize()
  for b in [block, wide] {
    for i in 0..<6 {
      b.norm.gamma.value[i] = 0.5 + 0.2 * Float(i)
      b.norm.beta.value[i] = 0.1 * Float(i) - 0.2
      b.norm.runningMean.value[i] = 0.05 * Float(i)
      b.norm.runningVar.value[i] = 0.7 + 0.1 * Float(i)
    }
  }
  wide.conv.algorithm = .im2col
  let x = randomTensor([2, 3, 9, 11], seed: 41)
  for b in [block, wide] {
    b.isTraining = false
    // Reference: the convolution, then batch norm with running statistics and ReLU.
    let conv = b.conv.forward(x).array
    var expected = [Float](repeating: 0, count: conv.count)
    for i in 0..<conv.count {
      let c = (i / 99) % 6
      let s = b.norm.gamma.value[c] / (b.norm.runningVar.value[c] + 1e-5).squareRoot()
      expected[i] = max(0, (conv[i] - b.norm.runningMean.value[c]) * s + b.norm.beta.value[c])
    }
    let y = b.forward(x).array
    #expect(maxRelativeDifference(y, expected, floor: 1e-2) < 1e-5)
    // Backward after the folded forward equals backward after the plain one.
    let dy = randomTensor([2, 6, 9, 11], seed: 42)
    store.zeroGradients()
    let dxFolded = b.backward(dy).array
    let gFolded = b.conv.weight.grad.array
    store.zeroGradients()
    _ = b.norm.forward(b.conv.forward(x))
    let dxPlain = b.backward(dy).array
    #expect(dxFolded == dxPlain)
    #expect(gFolded == b.conv.weight.grad.array)
  }
}

@Test("vectorised exp, erf and tanh against the C library")
func vectorMath() {
  var worstExp: Float = 0
  var worstErf: Float = 0
  var worstTanh: Float = 0
  var x: Float = -30
  while x < 30 {
    let v = F8((0..<8).map { x + Float($0) * 0.0013 })
    let e = exp8(v)
    let r = erf8(v)
    let t = tanh8(v)
    for i in 0..<8 {
      worstExp = max(worstExp, abs(e[i] - expf(v[i])) / expf(v[i]))
      worstErf = max(worstErf, abs(r[i] - erff(v[i])))
      worstTanh = max(worstTanh, abs(t[i] - tanhf(v[i])))
    }
    x += 0.0107
  }
  #expect(worstExp < 5e-7, "exp relative error \(worstExp)")
  // Abramowitz & Stegun bound the formula at 1.5e-7; Float rounding adds about as much again.
  #expect(worstErf < 5e-7, "erf absolute error \(worstErf)")
  #expect(worstTanh < 5e-7, "tanh absolute error \(worstTanh)")
  // Saturation far outside the range.
  let big = exp8(F8(repeating: 200))
  let tiny = exp8(F8(repeating: -200))
  #expect(big[0].isFinite && big[0] > 1e38 && tiny[0] >= 0 && tiny[0] < 1e-37)
}
