import NeuralEngine

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Configuration of `ReferenceMTACNN`; the defaults are DESIGN §4's (about 1.1 M parameters,
/// 3.57 GFLOP per 224×224 forward pass).
public struct ReferenceMTACNNConfig: Sendable, Codable, Equatable {
  public var imageSize: Int = 224
  /// Channels of stages 1 to 4.
  public var channels: [Int] = [16, 32, 64, 128]
  public var subtypes: Int = 3
  public var dropout: Float = 0.2
  public var transformerLayers: Int = 2
  public var heads: Int = 4
  public var mlp: Int = 256
  public var transformerDropout: Float = 0.1
  /// The reference PyTorch network learns alpha[p][p] too; DESIGN §4 fixes it to 1 (false).
  public var learnedSelfAlpha: Bool = true
  /// Whether each task reads the other through a learned alpha (false: alpha fixed at 0, so a
  /// frozen task is unaffected by the one being trained).
  public var clsReadsSeg: Bool = true
  public var segReadsCls: Bool = true
  public var seed: UInt64 = 0

  public init() {}
}

/// DESIGN §4's multi-task network built from the engine's layers, exactly as the reference
/// PyTorch definition (`Benchmarks/mtacnn_torch.py`, a verbatim copy of the team's
/// `../shared/reference/mtacnn_torch.py`), with the same parameter names (the TTC betas
/// `xsN.beta.<p>.<q>` are PyTorch's (C, 2, 2) `xsN.beta[:, p, q]`).
///
/// It exists to hold the engine to PyTorch: the engine's parity tests check it against the
/// PyTorch fixture, and `blastview bench engine --network reference` times it beside
/// `Benchmarks/compare_pytorch.py`. Users run the `MTACNN` module's model instead (configurable
/// tasks and schemas, alpha[p][p] = 1), built from the same engine blocks.
///
/// Groups: `shared` (stages 1-2), `cls` (classification column, head, TTC row 0), `seg`
/// (segmentation column, transformer, decoder, TTC row 1).
public final class ReferenceMTACNN: ModeSwitching {
  public let config: ReferenceMTACNNConfig
  public let store: ParameterStore
  public let s1: EncoderStage
  public let s2: EncoderStage
  public let cls3: EncoderStage
  public let cls4: EncoderStage
  public let seg3: EncoderStage
  public let seg4: EncoderStage
  public let xs3: TaskConnection
  public let xs4: TaskConnection
  public let gap = GlobalAvgPool()
  public let clsDropout: Dropout
  public let headMalignant: Dense
  public let headSubtype: Dense
  public let bottleneck: TransformerBottleneck
  public let d4: DecoderBlock
  public let d3: DecoderBlock
  public let d2: DecoderBlock
  public let d1: DecoderBlock
  public let segOut: Conv2D

  private var headGrad = ReusableBuffer()
  private var encoderGrad = ReusableBuffer()
  private var saved: (f1: Tensor, f2: Tensor, f3: Tensor, f4: Tensor)?

  /// Builds the network and finalizes `store` (unless `finalize` is false, to add more first).
  public init(
    config: ReferenceMTACNNConfig = ReferenceMTACNNConfig(), store: ParameterStore? = nil,
    finalize: Bool = true
  ) {
    precondition(config.channels.count == 4, "four stage widths expected")
    precondition(config.imageSize % 16 == 0, "image size must be a multiple of 16")
    self.config = config
    let st = store ?? ParameterStore(seed: config.seed)
    self.store = st
    let c = config.channels
    let p = config.dropout
    let seed = config.seed
    s1 = EncoderStage(
      st, name: "s1", group: "shared", inChannels: 3, outChannels: c[0], dropout: p, seed: seed)
    s2 = EncoderStage(
      st, name: "s2", group: "shared", inChannels: c[0], outChannels: c[1], dropout: p, seed: seed)
    cls3 = EncoderStage(
      st, name: "cls3", group: "cls", inChannels: c[1], outChannels: c[2], dropout: p, seed: seed)
    cls4 = EncoderStage(
      st, name: "cls4", group: "cls", inChannels: c[2], outChannels: c[3], dropout: p, seed: seed)
    seg3 = EncoderStage(
      st, name: "seg3", group: "seg", inChannels: c[1], outChannels: c[2], dropout: p, seed: seed)
    seg4 = EncoderStage(
      st, name: "seg4", group: "seg", inChannels: c[2], outChannels: c[3], dropout: p, seed: seed)
    // The reference's cross-stitch init: alpha 0.9 on the diagonal (learned unless fixed to 1),
    // 0.1 across.
    let both = [[true, config.clsReadsSeg], [config.segReadsCls, true]]
    let cross = Float(log(0.1 / 0.9))
    let selfBeta = config.learnedSelfAlpha ? Float(log(0.9 / 0.1)) : nil
    xs3 = TaskConnection(
      st, name: "xs3", groups: ["cls", "seg"], channels: c[2], reads: both, crossBeta: cross,
      selfBeta: selfBeta)
    xs4 = TaskConnection(
      st, name: "xs4", groups: ["cls", "seg"], channels: c[3], reads: both, crossBeta: cross,
      selfBeta: selfBeta)
    clsDropout = Dropout(p, seed: seed ^ SeededGenerator.hash("cls_drop"))
    headMalignant = Dense(st, name: "head_malig", group: "cls", inFeatures: c[3], outFeatures: 1)
    headSubtype = Dense(st, name: "head_sub", group: "cls", inFeatures: c[3], outFeatures: config.subtypes)
    let t = config.imageSize / 16
    bottleneck = TransformerBottleneck(
      st, name: "bottleneck", group: "seg", features: c[3], height: t, width: t,
      layers: config.transformerLayers, heads: config.heads, mlp: config.mlp,
      dropout: config.transformerDropout,
      seed: seed)
    d4 = DecoderBlock(st, name: "d4", group: "seg", inChannels: c[3], skipChannels: c[3], outChannels: c[2])
    d3 = DecoderBlock(st, name: "d3", group: "seg", inChannels: c[2], skipChannels: c[2], outChannels: c[1])
    d2 = DecoderBlock(st, name: "d2", group: "seg", inChannels: c[1], skipChannels: c[1], outChannels: c[0])
    d1 = DecoderBlock(st, name: "d1", group: "seg", inChannels: c[0], skipChannels: c[0], outChannels: c[0])
    segOut = Conv2D(
      st, name: "seg_out", group: "seg", inChannels: c[0], outChannels: 1, kernel: 1, bias: true)
    if finalize { st.finalize() }
  }

  /// Each part with the group it belongs to.
  private var modeSwitches: [(String, ModeSwitching)] {
    [
      ("shared", s1), ("shared", s2), ("cls", cls3), ("cls", cls4), ("seg", seg3), ("seg", seg4),
      ("cls", clsDropout), ("seg", bottleneck), ("seg", d4), ("seg", d3), ("seg", d2), ("seg", d1),
    ]
  }

  /// Training mode for the parts whose group is not frozen; frozen parts always run in
  /// inference mode (running statistics, no dropout), so they neither change their batch-norm
  /// buffers nor their outputs.
  public var isTraining: Bool {
    get { modeSwitches.contains { $0.1.isTraining } }
    set {
      for (group, m) in modeSwitches { m.isTraining = newValue && !store.isFrozen(group) }
    }
  }

  /// Inference mode with every convolution keeping its packed or transformed kernel between
  /// calls (recomputed when the store's version moves). Training mode (`isTraining = true`)
  /// leaves caching on; it is harmless since every optimiser step moves the version.
  public func prepareForInference() {
    isTraining = false
    for c in convolutions(batch: 1) { c.conv.cachesKernels = true }
  }

  /// Forward pass of a (B, 3, S, S) batch: malignant logits (B, 1), subtype logits
  /// (B, subtypes) and nucleus mask logits (B, 1, S, S).
  public func forward(_ x: Tensor) -> (malignant: Tensor, subtypes: Tensor, mask: Tensor) {
    precondition(
      x.shape.count == 4 && x.shape[1] == 3 && x.shape[2] == config.imageSize
        && x.shape[3] == config.imageSize,
      "expected B×3×\(config.imageSize)×\(config.imageSize) input, got \(x.shape)")
    let (f1, p1) = s1.forward(x)
    let (f2, p2) = s2.forward(p1)
    let c3 = cls3.forward(p2).output
    let (f3, sg3) = seg3.forward(p2)
    let x3 = profile("ttc forward") { xs3.forward([c3, sg3]) }
    let c4 = cls4.forward(x3[0]).output
    let (f4, sg4) = seg4.forward(x3[1])
    let x4 = profile("ttc forward") { xs4.forward([c4, sg4]) }
    let (m, s) = profile("classification head forward") {
      let g = clsDropout.forward(gap.forward(x4[0]))
      return (headMalignant.forward(g), headSubtype.forward(g))
    }
    var y = profile("transformer forward") { bottleneck.forward(x4[1]) }
    y = d4.forward(y, skip: f4)
    y = d3.forward(y, skip: f3)
    y = d2.forward(y, skip: f2)
    y = d1.forward(y, skip: f1)
    saved = (f1, f2, f3, f4)
    return (m, s, profile("conv forward") { segOut.forward(y) })
  }

  /// Backward pass from the loss gradients of the three outputs. Adds every unfrozen
  /// parameter's gradient; a frozen group's parameters get none, and the input gradient of a
  /// part is computed only when something before it still learns.
  public func backward(malignant dm: Tensor, subtypes ds: Tensor, mask dMask: Tensor) {
    let frozen = store.frozen
    let sharedLearns = !frozen.contains("shared")
    let clsLearns = !frozen.contains("cls")
    let segLearns = !frozen.contains("seg")

    // Segmentation head and decoder.
    var dSkip1: Tensor?
    var dSkip2: Tensor?
    var dSkip3: Tensor?
    var dSkip4: Tensor?
    var dSeg4: Tensor?
    if segLearns || clsLearns || sharedLearns {
      var g = profile("conv backward") { segOut.backward(dMask) }
      (g, dSkip1) = d1.backward(g)
      (g, dSkip2) = d2.backward(g)
      (g, dSkip3) = d3.backward(g)
      (g, dSkip4) = d4.backward(g)
      dSeg4 = profile("transformer backward") { bottleneck.backward(g) }
    }
    // Classification head.
    let dCls4 = profile("classification head backward") {
      let dg = headGrad.tensor([dm.shape[0], config.channels[3]])
      dg.copy(from: headMalignant.backward(dm))
      accumulate(headSubtype.backward(ds), into: dg)
      return gap.backward(clsDropout.backward(dg))
    }
    // Stage 4 connection and columns.
    let below = sharedLearns || clsLearns || segLearns
    let d4s = profile("ttc backward") { xs4.backward([dCls4, dSeg4], wantInput: [below, below]) }
    let dx3c = cls4.backward(skip: nil, output: d4s[0]!)
    let dx3s = seg4.backward(skip: dSkip4, output: d4s[1]!)
    let d3s = profile("ttc backward") { xs3.backward([dx3c, dx3s], wantInput: [below, below]) }
    let dp2 = cls3.backward(skip: nil, output: d3s[0]!, wantInput: sharedLearns)
    let dp2s = seg3.backward(skip: dSkip3, output: d3s[1]!, wantInput: sharedLearns)
    guard sharedLearns, let dp2, let dp2s else { return }
    let e = encoderGrad.tensor(dp2.shape)
    profile("skip accumulate") {
      e.copy(from: dp2)
      accumulate(dp2s, into: e)
    }
    let dp1 = s2.backward(skip: dSkip2, output: e)!
    s1.backward(skip: dSkip1, output: dp1, wantInput: false)
  }

  /// Every convolution with the input shape it sees at `batch`, in forward order (for counting
  /// FLOPs and for per-layer benchmarks).
  public func convolutions(batch: Int) -> [(name: String, conv: Conv2D, input: [Int])] {
    let s = config.imageSize
    let c = config.channels
    var out: [(String, Conv2D, [Int])] = []
    func stage(_ st: EncoderStage, _ cin: Int, _ size: Int) {
      out.append((st.first.conv.name, st.first.conv, [batch, cin, size, size]))
      out.append((st.second.conv.name, st.second.conv, [batch, st.second.conv.inChannels, size, size]))
    }
    func decoder(_ d: DecoderBlock, _ size: Int) {
      out.append((d.first.conv.name, d.first.conv, [batch, d.first.conv.inChannels, size, size]))
      out.append((d.second.conv.name, d.second.conv, [batch, d.second.conv.inChannels, size, size]))
    }
    stage(s1, 3, s)
    stage(s2, c[0], s / 2)
    stage(cls3, c[1], s / 4)
    stage(seg3, c[1], s / 4)
    stage(cls4, c[2], s / 8)
    stage(seg4, c[2], s / 8)
    decoder(d4, s / 8)
    decoder(d3, s / 4)
    decoder(d2, s / 2)
    decoder(d1, s)
    out.append((segOut.name, segOut, [batch, c[0], s, s]))
    return out
  }

  /// Floating-point operations of one forward pass over a batch of `batch`.
  public func forwardFLOPs(batch: Int) -> Int {
    let s = config.imageSize
    let c = config.channels
    var f = 0
    f += s1.forwardFLOPs(for: [batch, 3, s, s])
    f += s2.forwardFLOPs(for: [batch, c[0], s / 2, s / 2])
    f += 2 * cls3.forwardFLOPs(for: [batch, c[1], s / 4, s / 4])
    f += 2 * cls4.forwardFLOPs(for: [batch, c[2], s / 8, s / 8])
    f += bottleneck.forwardFLOPs(for: [batch, c[3], s / 16, s / 16])
    f += d4.forwardFLOPs(input: [batch, c[3], s / 16, s / 16], skip: [batch, c[3], s / 8, s / 8])
    f += d3.forwardFLOPs(input: [batch, c[2], s / 8, s / 8], skip: [batch, c[2], s / 4, s / 4])
    f += d2.forwardFLOPs(input: [batch, c[1], s / 4, s / 4], skip: [batch, c[1], s / 2, s / 2])
    f += d1.forwardFLOPs(input: [batch, c[0], s / 2, s / 2], skip: [batch, c[0], s, s])
    f += segOut.forwardFLOPs(for: [batch, c[0], s, s])
    return f
  }
}

/// One optimisation step of `ReferenceMTACNN` with DESIGN §4's loss: the hierarchical
/// classification loss plus lambda × the class-weighted focal loss (a = N_b/N_f of the batch).
public final class ReferenceTrainer {
  public let network: ReferenceMTACNN
  public let optimizer: Adam
  public var lambda: Float = 1
  public let classification: HierarchicalLoss
  public let focal = BinaryFocalLoss(gamma: 2)

  public init(network: ReferenceMTACNN, learningRate: Float = 1e-3) {
    self.network = network
    optimizer = Adam(network.store, learningRate: learningRate)
    classification = HierarchicalLoss(subtypes: network.config.subtypes)
  }

  /// Runs forward, loss, backward and Adam on one batch; returns (classification, mask) losses.
  @discardableResult
  public func step(images: Tensor, labels: [Int], masks: Tensor) -> (classification: Float, mask: Float) {
    network.isTraining = true
    profile("zero gradients") { network.store.zeroGradients() }
    let out = network.forward(images)
    let (cl, ml) = profile("losses") {
      let cl = classification(malignant: out.malignant, subtypes: out.subtypes, labels: labels)
      let a = BinaryFocalLoss.balancedWeight(targets: masks)
      return (cl, focal(out.mask, targets: masks, positiveWeight: a))
    }
    if lambda != 1 {
      let g = ml.gradient.data
      for i in 0..<ml.gradient.count { g[i] *= lambda }
    }
    network.backward(malignant: cl.malignantGradient, subtypes: cl.subtypeGradient, mask: ml.gradient)
    profile("adam") { optimizer.step() }
    return (cl.loss, ml.loss)
  }
}
