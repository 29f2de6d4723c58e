/// Building blocks of U-Net-like CNNs, made of the engine's layers: the `MTACNN` module's model
/// and the reference network (`ReferenceNetwork`, checked against PyTorch) are built from them,
/// so a block verified once serves both.

/// 3×3 convolution without bias, batch norm and ReLU (fused into the batch norm).
/// Parameter names `<conv>.weight` and `<bn>.{weight,bias,running_mean,running_var}`.
///
/// In inference mode the batch norm (fixed statistics) and the ReLU are folded into the
/// convolution's store: y = max(0, γ/σ·conv(x) + β − μγ/σ), one pass instead of three. A
/// backward pass after such a forward first recomputes the unfolded forward (rare: only when
/// gradients flow through a part kept in inference mode).
public final class ConvBNReLU: Layer, ModeSwitching {
  public let conv: Conv2D
  public let norm: BatchNorm2D
  private var foldScale = ReusableBuffer()
  private var foldShift = ReusableBuffer()
  private var folded = false

  public init(
    _ store: ParameterStore, convName: String, normName: String, group: String, inChannels: Int,
    outChannels: Int
  ) {
    conv = Conv2D(store, name: convName, group: group, inChannels: inChannels, outChannels: outChannels)
    norm = BatchNorm2D(store, name: normName, group: group, channels: outChannels, fusedReLU: true)
  }

  public var isTraining: Bool {
    get { norm.isTraining }
    set { norm.isTraining = newValue }
  }

  public func outputShape(for s: [Int]) -> [Int] { conv.outputShape(for: s) }

  public func forwardFLOPs(for s: [Int]) -> Int {
    conv.forwardFLOPs(for: s) + norm.forwardFLOPs(for: conv.outputShape(for: s))
  }

  public func forward(_ x: Tensor) -> Tensor {
    if norm.isTraining {
      folded = false
      let y = profile("conv forward") { conv.forward(x) }
      return profile("batchnorm+relu forward") { norm.forward(y) }
    }
    let c = norm.channels
    let scale = foldScale.tensor([c])
    let shift = foldShift.tensor([c])
    let g = norm.gamma.value.data
    let b = norm.beta.value.data
    let rm = norm.runningMean.value.data
    let rv = norm.runningVar.value.data
    for i in 0..<c {
      scale[i] = g[i] / (rv[i] + norm.epsilon).squareRoot()
      shift[i] = b[i] - rm[i] * scale[i]
    }
    folded = true
    return profile("conv forward") {
      conv.forward(
        x, epilogue: ConvEpilogue(scale: scale.data, shift: shift.data, relu: norm.fusedReLU))
    }
  }

  private func unfold() {
    guard folded, let x = conv.lastInput else { return }
    folded = false
    _ = norm.forward(conv.forward(x))
  }

  public func backward(_ dy: Tensor) -> Tensor {
    unfold()
    let g = profile("batchnorm+relu backward") { norm.backward(dy) }
    return profile("conv backward") { conv.backward(g) }
  }

  public func backwardParameters(_ dy: Tensor) {
    unfold()
    let g = profile("batchnorm+relu backward") { norm.backward(dy) }
    profile("conv backward") { conv.backwardParameters(g) }
  }
}

/// An encoder stage: two ConvBNReLU, then 2×2 max-pool and dropout. Forward returns the
/// pre-pool features (for skip connections) and the pooled output. Parameter names follow the
/// reference PyTorch `Stage`: `<name>.block.{0,1}.{0,1}.*`.
public final class EncoderStage: ModeSwitching {
  public let name: String
  public let first: ConvBNReLU
  public let second: ConvBNReLU
  public let pool = MaxPool2x2()
  public let dropout: Dropout

  public init(
    _ store: ParameterStore, name: String, group: String, inChannels: Int, outChannels: Int,
    dropout p: Float, seed: UInt64
  ) {
    self.name = name
    first = ConvBNReLU(
      store, convName: name + ".block.0.0", normName: name + ".block.0.1", group: group,
      inChannels: inChannels,
      outChannels: outChannels)
    second = ConvBNReLU(
      store, convName: name + ".block.1.0", normName: name + ".block.1.1", group: group,
      inChannels: outChannels, outChannels: outChannels)
    dropout = Dropout(p, seed: seed ^ SeededGenerator.hash(name))
  }

  public var isTraining: Bool {
    get { first.isTraining }
    set {
      first.isTraining = newValue
      second.isTraining = newValue
      dropout.isTraining = newValue
    }
  }

  public func forward(_ x: Tensor) -> (skip: Tensor, output: Tensor) {
    let f = second.forward(first.forward(x))
    let p = profile("maxpool forward") { pool.forward(f) }
    return (f, profile("dropout forward") { dropout.forward(p) })
  }

  /// Gradient of the input from the gradients of the output and (optionally) of the skip.
  /// With `wantInput` false only parameter gradients are computed and nil is returned.
  @discardableResult
  public func backward(skip dSkip: Tensor?, output dOut: Tensor, wantInput: Bool = true) -> Tensor? {
    let dp = profile("dropout backward") { dropout.backward(dOut) }
    let df = profile("maxpool backward") { pool.backward(dp) }
    if let dSkip { profile("skip accumulate") { accumulate(dSkip, into: df) } }
    let g = second.backward(df)
    if wantInput { return first.backward(g) }
    first.backwardParameters(g)
    return nil
  }

  public func forwardFLOPs(for s: [Int]) -> Int {
    first.forwardFLOPs(for: s) + second.forwardFLOPs(for: first.outputShape(for: s))
  }
}

/// A TransUNet decoder block: bilinear ×2 upsampling (align_corners), concatenation of the skip,
/// two ConvBNReLU. Parameter names follow the reference: `<name>.conv.{0,1}.{0,1}.*`.
public final class DecoderBlock: ModeSwitching {
  public let name: String
  public let upsample = Upsample2x(.bilinear(alignCorners: true))
  public let concat = Concat()
  public let first: ConvBNReLU
  public let second: ConvBNReLU

  public init(
    _ store: ParameterStore, name: String, group: String, inChannels: Int, skipChannels: Int,
    outChannels: Int
  ) {
    self.name = name
    first = ConvBNReLU(
      store, convName: name + ".conv.0.0", normName: name + ".conv.0.1", group: group,
      inChannels: inChannels + skipChannels, outChannels: outChannels)
    second = ConvBNReLU(
      store, convName: name + ".conv.1.0", normName: name + ".conv.1.1", group: group,
      inChannels: outChannels, outChannels: outChannels)
  }

  public var isTraining: Bool {
    get { first.isTraining }
    set {
      first.isTraining = newValue
      second.isTraining = newValue
    }
  }

  public func forward(_ x: Tensor, skip: Tensor) -> Tensor {
    let u = profile("upsample forward") { upsample.forward(x) }
    let c = profile("concat forward") { concat.forward(u, skip) }
    return second.forward(first.forward(c))
  }

  /// Gradients of the input and of the skip.
  public func backward(_ dy: Tensor) -> (input: Tensor, skip: Tensor) {
    let g = first.backward(second.backward(dy))
    let (du, dSkip) = profile("concat backward") { concat.backward(g) }
    return (profile("upsample backward") { upsample.backward(du) }, dSkip)
  }

  public func forwardFLOPs(input s: [Int], skip k: [Int]) -> Int {
    let up = upsample.outputShape(for: s)
    let cat = concat.outputShape(up, k)
    return upsample.forwardFLOPs(for: s) + first.forwardFLOPs(for: cat)
      + second.forwardFLOPs(for: first.outputShape(for: cat))
  }
}

/// TransUNet's bottleneck: the feature map as tokens plus a learned position embedding, N
/// pre-norm transformer layers, a final layer norm, back to a feature map. Names follow the
/// reference: `<name>.pos`, `<name>.enc.layers.<i>.*`, `<name>.norm.*`.
public final class TransformerBottleneck: Layer, ModeSwitching {
  public let toTokens = ToTokens()
  public let position: PositionEmbedding
  public let layers: [TransformerEncoderLayer]
  public let norm: LayerNorm
  public let fromTokens: FromTokens

  public init(
    _ store: ParameterStore, name: String, group: String, features: Int, height: Int, width: Int,
    layers count: Int, heads: Int, mlp: Int, dropout: Float, seed: UInt64
  ) {
    position = PositionEmbedding(
      store, name: name + ".pos", group: group, tokens: height * width, features: features)
    layers = (0..<count).map {
      TransformerEncoderLayer(
        store, name: "\(name).enc.layers.\($0)", group: group, features: features, heads: heads, mlp: mlp,
        dropout: dropout, seed: seed)
    }
    norm = LayerNorm(store, name: name + ".norm", group: group, features: features)
    fromTokens = FromTokens(height: height, width: width)
  }

  public var isTraining: Bool {
    get { layers.first?.isTraining ?? false }
    set { for l in layers { l.isTraining = newValue } }
  }

  public func outputShape(for s: [Int]) -> [Int] { s }

  public func forwardFLOPs(for s: [Int]) -> Int {
    let t = toTokens.outputShape(for: s)
    return layers.reduce(0) { $0 + $1.forwardFLOPs(for: t) } + norm.forwardFLOPs(for: t)
  }

  public func forward(_ x: Tensor) -> Tensor {
    var t = position.forward(toTokens.forward(x))
    for l in layers { t = l.forward(t) }
    return fromTokens.forward(norm.forward(t))
  }

  public func backward(_ dy: Tensor) -> Tensor {
    var g = norm.backward(fromTokens.backward(dy))
    for l in layers.reversed() { g = l.backward(g) }
    return toTokens.backward(position.backward(g))
  }

  public func backwardParameters(_ dy: Tensor) {
    // The position embedding's gradient is the first layer's input gradient, so only the
    // final transpose is skipped.
    var g = norm.backward(fromTokens.backward(dy))
    for l in layers.reversed() { g = l.backward(g) }
    position.backwardParameters(g)
  }
}
