import NeuralEngine

/// TransUNet's bottleneck as the checkpoint contract names it (`seg.bottleneck.*`): the S/16 map as
/// tokens (token = y·W + x), an optional projection to the transformer width D (`proj_in`, only when
/// D ≠ c4), a learned position embedding `pos` [1, N, D], pre-norm transformer layers
/// (`enc.layers.<i>`), a final layer norm (`norm`), the projection back (`proj_out`), and the map.
///
/// Made of the engine's layers; it differs from the engine's `TransformerBottleneck` only by the
/// optional projections, which the paper's "100 heads of width 4" configuration needs.
final class SegmentationBottleneck: ModeSwitching {
  let toTokens = ToTokens()
  let projectIn: Dense?
  let position: PositionEmbedding
  let layers: [TransformerEncoderLayer]
  let norm: LayerNorm
  let projectOut: Dense?
  let fromTokens: FromTokens

  init(
    _ store: ParameterStore, name: String, group: String, channels: Int, width: Int, side: Int, depth: Int,
    heads: Int, mlp: Int, dropout: Float, seed: UInt64
  ) {
    projectIn =
      width == channels
      ? nil : Dense(store, name: name + ".proj_in", group: group, inFeatures: channels, outFeatures: width)
    position = PositionEmbedding(
      store, name: name + ".pos", group: group, tokens: side * side, features: width)
    layers = (0..<depth).map {
      TransformerEncoderLayer(
        store, name: "\(name).enc.layers.\($0)", group: group, features: width, heads: heads, mlp: mlp,
        dropout: dropout, seed: seed)
    }
    norm = LayerNorm(store, name: name + ".norm", group: group, features: width)
    projectOut =
      width == channels
      ? nil : Dense(store, name: name + ".proj_out", group: group, inFeatures: width, outFeatures: channels)
    fromTokens = FromTokens(height: side, width: side)
  }

  var isTraining: Bool {
    get { layers.first?.isTraining ?? false }
    set { for l in layers { l.isTraining = newValue } }
  }

  func forward(_ x: Tensor) -> Tensor {
    var t = toTokens.forward(x)
    if let projectIn { t = projectIn.forward(t) }
    t = position.forward(t)
    for l in layers { t = l.forward(t) }
    t = norm.forward(t)
    if let projectOut { t = projectOut.forward(t) }
    return fromTokens.forward(t)
  }

  /// The input gradient when `wantInput`, else only parameter gradients (nil).
  func backward(_ dy: Tensor, wantInput: Bool) -> Tensor? {
    var g = fromTokens.backward(dy)
    if let projectOut { g = projectOut.backward(g) }
    g = norm.backward(g)
    for l in layers.reversed() { g = l.backward(g) }
    if !wantInput {
      if let projectIn {
        g = position.backward(g)
        projectIn.backwardParameters(g)
      } else {
        position.backwardParameters(g)
      }
      return nil
    }
    g = position.backward(g)
    if let projectIn { g = projectIn.backward(g) }
    return toTokens.backward(g)
  }

  func forwardFLOPs(for s: [Int]) -> Int {
    var t = toTokens.outputShape(for: s)
    var f = 0
    if let projectIn {
      f += projectIn.forwardFLOPs(for: t)
      t = projectIn.outputShape(for: t)
    }
    f += layers.reduce(0) { $0 + $1.forwardFLOPs(for: t) } + norm.forwardFLOPs(for: t)
    if let projectOut { f += projectOut.forwardFLOPs(for: t) }
    return f
  }
}
