import Foundation
import Testing

@testable import NeuralEngine
@testable import ReferenceNetwork

/// Parity with PyTorch 2.x on the fixtures of tools/fixtures/make_engine_fixtures.py: each layer's
/// output, input gradient and parameter gradients match to 1e-4 relative (see `scaledError`).
@Suite("PyTorch parity")
struct TorchParityTests {
  /// Runs forward and backward of a single-input layer on fixture `prefix` and compares.
  func checkLayer(
    _ f: SafeTensorsFile, _ prefix: String, _ layer: Layer, params: [(String, Parameter)] = [],
    store: ParameterStore? = nil, tolerance: Float = 1e-4, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    for (n, p) in params { try f.load("\(prefix).\(n)", into: p) }
    store?.zeroGradients()
    let x = try f.tensor("\(prefix).x")
    let y = layer.forward(x)
    expectClose(
      y.array, try f.values("\(prefix).y"), tolerance, "\(prefix) output", sourceLocation: sourceLocation)
    let dx = layer.backward(try f.tensor("\(prefix).dy"))
    expectClose(
      dx.array, try f.values("\(prefix).dx"), tolerance, "\(prefix) input gradient",
      sourceLocation: sourceLocation)
    for (n, p) in params where p.kind == .trainable {
      expectClose(
        p.grad.array, try f.values("\(prefix).d\(n)"), tolerance, "\(prefix) \(n) gradient",
        sourceLocation: sourceLocation)
    }
  }

  @Test func convolutions() throws {
    let f = try fixture("conv")
    let cases: [(String, Int, Int, Int, Int, Bool)] = [
      ("k3s1", 3, 8, 3, 1, true), ("k3s2", 4, 6, 3, 2, false), ("k1", 8, 1, 1, 1, true),
      ("k3s1wide", 16, 16, 3, 1, false),
    ]
    // Winograd, the direct 3×3 kernels and the im2col + sgemm path.
    for (name, cin, cout, k, s, bias) in cases {
      for algorithm in [ConvAlgorithm.winograd, .direct, .im2col] {
        let store = ParameterStore()
        let conv = Conv2D(
          store, name: name, group: "g", inChannels: cin, outChannels: cout, kernel: k, stride: s, bias: bias)
        store.finalize()
        conv.algorithm = algorithm
        var params = [("weight", conv.weight)]
        if let b = conv.bias { params.append(("bias", b)) }
        try checkLayer(f, name, conv, params: params, store: store)
      }
    }
  }

  @Test func batchNorm() throws {
    let f = try fixture("layers")
    for (name, relu) in [("bn", false), ("bnrelu", true)] {
      let store = ParameterStore()
      let bn = BatchNorm2D(store, name: name, group: "g", channels: 5, fusedReLU: relu)
      store.finalize()
      try f.load("\(name).running_mean_before", into: bn.runningMean)
      try f.load("\(name).running_var_before", into: bn.runningVar)
      try checkLayer(f, name, bn, params: [("weight", bn.gamma), ("bias", bn.beta)], store: store)
      expectClose(
        bn.runningMean.value.array, try f.values("\(name).running_mean_after"), 1e-4, "\(name) running mean")
      expectClose(
        bn.runningVar.value.array, try f.values("\(name).running_var_after"), 1e-4, "\(name) running var")
    }
    let store = ParameterStore()
    let bn = BatchNorm2D(store, name: "bneval", group: "g", channels: 4)
    store.finalize()
    bn.isTraining = false
    try f.load("bneval.running_mean", into: bn.runningMean)
    try f.load("bneval.running_var", into: bn.runningVar)
    try checkLayer(f, "bneval", bn, params: [("weight", bn.gamma), ("bias", bn.beta)], store: store)
    expectClose(
      bn.runningMean.value.array, try f.values("bneval.running_mean"), 0, "running mean unchanged in eval")
  }

  @Test func activationsPoolingResampling() throws {
    let f = try fixture("layers")
    try checkLayer(f, "relu", ReLU())
    try checkLayer(f, "gelu_exact", GELU(.exact))
    try checkLayer(f, "gelu_tanh", GELU(.tanh))
    try checkLayer(f, "maxpool", MaxPool2x2())
    try checkLayer(f, "up_bilinear_ac", Upsample2x(.bilinear(alignCorners: true)))
    try checkLayer(f, "up_bilinear", Upsample2x(.bilinear(alignCorners: false)))
    try checkLayer(f, "up_nearest", Upsample2x(.nearest))
    try checkLayer(f, "gap", GlobalAvgPool())
  }

  @Test func denseLayerNormAttention() throws {
    let f = try fixture("layers")
    do {
      let store = ParameterStore()
      let d = Dense(store, name: "dense", group: "g", inFeatures: 7, outFeatures: 5)
      store.finalize()
      try checkLayer(f, "dense", d, params: [("weight", d.weight), ("bias", d.bias!)], store: store)
    }
    do {
      let store = ParameterStore()
      let ln = LayerNorm(store, name: "ln", group: "g", features: 12)
      store.finalize()
      try checkLayer(f, "layernorm", ln, params: [("weight", ln.gamma), ("bias", ln.beta)], store: store)
    }
    do {
      let store = ParameterStore()
      let mha = MultiHeadSelfAttention(store, name: "mha", group: "g", features: 16, heads: 4)
      store.finalize()
      try checkLayer(
        f, "mha", mha,
        params: [
          ("in_proj_weight", mha.inProjection.weight), ("in_proj_bias", mha.inProjection.bias!),
          ("out_proj.weight", mha.outProjection.weight), ("out_proj.bias", mha.outProjection.bias!),
        ], store: store)
    }
    do {
      let store = ParameterStore()
      let enc = TransformerEncoderLayer(
        store, name: "enc", group: "g", features: 16, heads: 4, mlp: 24, dropout: 0)
      store.finalize()
      let params = store.parameters.map { (String($0.name.dropFirst(4)), $0) }
      #expect(params.count == 12)
      try checkLayer(f, "encoder", enc, params: params, store: store)
    }
  }

  @Test func taskConnection() throws {
    let f = try fixture("layers")
    let store = ParameterStore()
    let ttc = TaskConnection(store, name: "ttc", groups: ["a", "b"], channels: 3)
    store.finalize()
    for p in 0..<2 {
      for q in 0..<2 { try f.load("ttc.beta.\(p).\(q)", into: ttc.betas[p][q]!) }
    }
    let ys = ttc.forward([try f.tensor("ttc.xa"), try f.tensor("ttc.xb")])
    expectClose(ys[0].array, try f.values("ttc.ya"), 1e-4, "ttc ya")
    expectClose(ys[1].array, try f.values("ttc.yb"), 1e-4, "ttc yb")
    store.zeroGradients()
    let dx = ttc.backward([try f.tensor("ttc.dya"), try f.tensor("ttc.dyb")], wantInput: [true, true])
    expectClose(dx[0]!.array, try f.values("ttc.dxa"), 1e-4, "ttc dxa")
    expectClose(dx[1]!.array, try f.values("ttc.dxb"), 1e-4, "ttc dxb")
    for p in 0..<2 {
      for q in 0..<2 {
        expectClose(
          ttc.betas[p][q]!.grad.array, try f.values("ttc.dbeta.\(p).\(q)"), 1e-4, "ttc dbeta \(p)\(q)")
      }
    }
  }

  @Test func losses() throws {
    let f = try fixture("losses")
    let ce = SoftmaxCrossEntropy(classes: 4, classWeights: try f.values("ce.weights"))
    let ceOut = ce(try f.tensor("ce.logits"), labels: try f.values("ce.labels").map { Int($0) })
    expectClose([ceOut.loss], try f.values("ce.loss"), 1e-5, "ce loss")
    expectClose(ceOut.gradient.array, try f.values("ce.grad"), 1e-4, "ce gradient")

    let bce = BCEWithLogits(positiveWeight: try f.values("bce.pos_weight")[0])
    let bceOut = bce(try f.tensor("bce.logits"), targets: try f.tensor("bce.targets"))
    expectClose([bceOut.loss], try f.values("bce.loss"), 1e-5, "bce loss")
    expectClose(bceOut.gradient.array, try f.values("bce.grad"), 1e-4, "bce gradient")

    let m = try f.tensor("hier.m")
    let s = try f.tensor("hier.s")
    let labels = try f.values("hier.labels").map { Int($0) }
    let hier = HierarchicalLoss(subtypes: 3, classWeights: try f.values("hier.weights"))
    let h = hier(malignant: m, subtypes: s, labels: labels)
    expectClose(
      HierarchicalLoss.logProbabilities(malignant: m, subtypes: s), try f.values("hier.logp"), 1e-5,
      "log-probabilities")
    expectClose([h.loss], try f.values("hier.loss"), 1e-5, "hierarchical loss")
    expectClose(h.malignantGradient.array, try f.values("hier.dm"), 1e-4, "dm")
    expectClose(h.subtypeGradient.array, try f.values("hier.ds"), 1e-4, "ds")

    let targets = try f.tensor("focal.targets")
    let a = BinaryFocalLoss.balancedWeight(targets: targets)
    expectClose([a], try f.values("focal.a"), 1e-6, "balanced weight")
    let fl = BinaryFocalLoss(gamma: 2)(try f.tensor("focal.logits"), targets: targets, positiveWeight: a)
    expectClose([fl.loss], try f.values("focal.loss"), 1e-5, "focal loss")
    expectClose(fl.gradient.array, try f.values("focal.grad"), 1e-4, "focal gradient")
  }

  @Test func adamSteps() throws {
    let f = try fixture("adam")
    for (name, decay) in [("adam", Float(0)), ("adamw", Float(0.1))] {
      let store = ParameterStore()
      let p = store.add("p", shape: [40], group: "g", initializer: .values(try f.values("p0")))
      store.finalize()
      let adam = Adam(store, learningRate: 1e-2, weightDecay: decay)
      for step in 1...2 {
        p.grad.copy(from: try f.tensor("g\(step)"))
        adam.step()
        expectClose(p.value.array, try f.values("\(name).p\(step)"), 1e-5, "\(name) step \(step)")
      }
      expectClose(adam.firstMoment(p).array, try f.values("\(name).m2"), 1e-5, "\(name) m")
      expectClose(adam.secondMoment(p).array, try f.values("\(name).v2"), 1e-5, "\(name) v")
    }
  }

  @Test func dtypesWrittenByTheSafetensorsLibrary() throws {
    let f = try fixture("dtypes")
    let exact = try f.values("f32")
    // F64 and F32 hold the same values; F16/BF16 hold them rounded to nearest, worked by hand:
    // 0.099975586 = 1.59961·2⁻⁴ is exact in F16 (10-bit mantissa: 1638/1024) and rounds to
    // 205/128·2⁻⁴ = 0.10009765625 in BF16 (7 bits: 204.75 → 205); 65504 = (2 − 2⁻¹⁰)·2¹⁵ is
    // F16's largest value and rounds up to 2¹⁶ in BF16.
    #expect(try f.values("f64") == exact)
    #expect(try f.values("f16") == [1.0, -2.5, 0.099975586, 65504.0, 6.1035156e-05, 0.0])
    #expect(try f.values("bf16") == [1.0, -2.5, 0.10009765625, 65536.0, 6.103515625e-05, 0.0])
    #expect(f.metadata["torch"] != nil && f.metadata["command"] != nil)
  }
}
