import Foundation
import Testing

@testable import NeuralEngine
@testable import ReferenceNetwork

func tinyNetwork(seed: UInt64 = 3, dropout: Float = 0, size: Int = 32, clsReadsSeg: Bool = true)
  -> ReferenceMTACNN
{
  var config = ReferenceMTACNNConfig()
  config.clsReadsSeg = clsReadsSeg
  config.imageSize = size
  config.channels = [4, 8, 8, 16]
  config.mlp = 32
  config.dropout = dropout
  config.transformerDropout = dropout / 2
  config.seed = seed
  return ReferenceMTACNN(config: config)
}

func tinyBatch(seed: UInt64, size: Int = 32) -> (Tensor, [Int], Tensor) {
  let x = randomTensor([2, 3, size, size], seed: seed)
  for i in 0..<x.count { x[i] = x[i] * 0.5 + 0.5 }
  let m = randomTensor([2, 1, size, size], seed: seed + 1)
  for i in 0..<m.count { m[i] = m[i] > 0.4 ? 1 : 0 }
  return (x, [0, 3], m)
}

private func bits(_ p: Parameter) -> [UInt32] { p.value.array.map(\.bitPattern) }

@Suite("Reference network")
struct NetworkTests {
  /// The whole network's backward against central differences of its loss, for elements of a
  /// parameter in every kind of layer (independent of the PyTorch fixture).
  ///
  /// The network is piecewise smooth: its ReLUs and max-pools have kinks, and at the classification
  /// column's 2×2 and 1×1 maps a step of 5e-4 in an early weight moves enough pre-activations across
  /// zero that the classification loss's central difference mixes slopes (a scan of the loss
  /// along one s1 weight shows slopes −0.071 and −0.049 on either side). So the mask loss, which
  /// is smooth at this step, checks the encoder, both columns through the TTC units, the
  /// transformer and the decoder; the classification loss checks what follows the last kink.
  @Test func fullNetworkFiniteDifferences() {
    let net = tinyNetwork(size: 64)
    let (x, labels, masks) = tinyBatch(seed: 10, size: 64)
    net.isTraining = true
    let hier = HierarchicalLoss(subtypes: 3)
    let focal = BinaryFocalLoss()
    let a = BinaryFocalLoss.balancedWeight(targets: masks)
    let zeroM = Tensor(shape: [2, 1])
    let zeroS = Tensor(shape: [2, 3])
    let zeroMask = Tensor(shape: [2, 1, 64, 64])
    for useMask in [true, false] {
      func loss() -> Double {
        let o = net.forward(x)
        return useMask
          ? Double(focal(o.mask, targets: masks, positiveWeight: a).loss)
          : Double(hier(malignant: o.malignant, subtypes: o.subtypes, labels: labels).loss)
      }
      net.store.zeroGradients()
      let o = net.forward(x)
      if useMask {
        net.backward(
          malignant: zeroM, subtypes: zeroS, mask: focal(o.mask, targets: masks, positiveWeight: a).gradient)
      } else {
        let c = hier(malignant: o.malignant, subtypes: o.subtypes, labels: labels)
        net.backward(malignant: c.malignantGradient, subtypes: c.subtypeGradient, mask: zeroMask)
      }
      let names =
        useMask
        ? [
          "s1.block.0.0.weight", "s2.block.1.1.weight", "cls3.block.0.0.weight", "seg4.block.1.1.bias",
          "xs3.beta.0.1", "xs3.beta.1.0", "xs4.beta.1.1", "xs4.beta.1.0", "bottleneck.pos",
          "bottleneck.enc.layers.0.self_attn.in_proj_weight", "bottleneck.enc.layers.1.linear1.weight",
          "bottleneck.norm.weight", "d4.conv.0.0.weight", "d1.conv.1.1.bias", "seg_out.weight",
        ]
        : [
          "xs4.beta.0.0", "xs4.beta.0.1", "head_malig.weight", "head_malig.bias", "head_sub.weight",
          "head_sub.bias",
        ]
      var numeric: [Double] = []
      var analytic: [Double] = []
      for name in names {
        let p = net.store[name]
        let g = p.grad.array
        let idx = probeIndices(p.count, max: 4, seed: SeededGenerator.hash(name))
        numeric += numericGradient(of: p.value, at: idx, eps: 5e-4, loss)
        analytic += idx.map { Double(g[$0]) }
      }
      let e = relativeError(numeric, analytic)
      #expect(e < 1e-2, "\(useMask ? "mask" : "classification") loss: gradient relative error \(e)")
    }
  }

  /// Freezing the shared encoder and the classification task, with classification reading
  /// nothing from segmentation: segmentation trains; every frozen tensor (weights and batch-norm
  /// statistics) keeps its bytes, its gradients are never written, Adam leaves its state alone,
  /// and the classification outputs on a fixed batch stay bit-identical.
  @Test func frozenGroupsStayBitIdentical() {
    // Classification reads nothing from segmentation (alpha[cls][seg] = 0, no parameter).
    let net = tinyNetwork(dropout: 0.2, clsReadsSeg: false)
    let trainer = ReferenceTrainer(network: net)
    let (x0, l0, m0) = tinyBatch(seed: 20)
    trainer.step(images: x0, labels: l0, masks: m0)  // moves everything once, unfrozen
    net.store.freeze("shared")
    net.store.freeze("cls")
    let frozen = net.store.parameters.filter { $0.group != "seg" }
    let before = frozen.map(bits)
    for p in frozen where p.kind == .trainable { p.grad.fill(.nan) }
    let segBefore = net.store.parameters(inGroup: "seg").map(bits)
    let (probe, _, _) = tinyBatch(seed: 30)
    net.isTraining = false
    let out = net.forward(probe)
    let clsBefore = out.malignant.array + out.subtypes.array
    for s in 0..<3 {
      let (x, l, m) = tinyBatch(seed: 40 + UInt64(s))
      trainer.step(images: x, labels: l, masks: m)
    }
    #expect(frozen.map(bits) == before)
    for p in frozen where p.kind == .trainable {
      #expect(p.grad.array.allSatisfy { $0.isNaN }, "\(p.name) gradient was written")
      #expect(trainer.optimizer.stepCount(p) == 1)
    }
    #expect(net.store.parameters(inGroup: "seg").map(bits) != segBefore)
    net.isTraining = false
    let after = net.forward(probe)
    #expect((after.malignant.array + after.subtypes.array).map(\.bitPattern) == clsBefore.map(\.bitPattern))
  }

  /// Same seed, same thread count: the same weights after training steps with dropout.
  @Test func trainingIsDeterministic() {
    func run(threads: Int) -> [Float] {
      Threads.$scoped.withValue(threads) {
        let net = tinyNetwork(seed: 5, dropout: 0.2)
        let trainer = ReferenceTrainer(network: net)
        for s in 0..<2 {
          let (x, l, m) = tinyBatch(seed: 50 + UInt64(s))
          trainer.step(images: x, labels: l, masks: m)
        }
        return net.store.parameters.flatMap { $0.value.array }
      }
    }
    let a = run(threads: 2)
    let b = run(threads: 2)
    #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
    let c = run(threads: 1)
    // Other thread counts split sums differently: equal to rounding.
    #expect(maxRelativeDifference(c, a, floor: 1e-2) < 1e-3)
  }

  @Test func defaultNetworkSize() {
    // DESIGN §4: about 1.1 M parameters and 3.57 GFLOP per 224×224 forward pass. Counted by
    // PyTorch: sum(p.numel() for p in MTACNN().parameters()) = 1,112,197.
    let net = ReferenceMTACNN(config: ReferenceMTACNNConfig(), finalize: false)
    let count = net.store.parameters.filter { $0.kind == .trainable }.reduce(0) { $0 + $1.count }
    #expect(count == 1_112_197)
    // The 3.57 GFLOP are the convolutions, 2·H·W·C_out·C_in·9 summed by hand over the 21 of them:
    // s1 274,563,072 + s2 346,816,512 + stages 3 and 4 (both columns) 1,387,266,048
    // + decoders 289,013,760 × 3 + 693,633,024 + 1×1 output 1,605,632 = 3,570,925,568.
    let convFLOPs = net.convolutions(batch: 1).reduce(0) { $0 + $1.conv.forwardFLOPs(for: $1.input) }
    #expect(net.convolutions(batch: 1).count == 21)
    #expect(convFLOPs == 3_570_925_568)
    // Everything, with attention, normalisation and resampling, is a little more.
    let all = net.forwardFLOPs(batch: 1)
    #expect(all > convFLOPs && all < convFLOPs + 250_000_000)
  }
}
