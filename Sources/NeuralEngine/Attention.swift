#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Multi-head self-attention over (B, T, D) tokens, as PyTorch's `nn.MultiheadAttention` with
/// `batch_first=True`: one input projection to queries, keys and values (weight (3D, D), Glorot
/// initialised, zero bias), softmax(QKᵀ/√d_h) per head with dropout on the attention
/// probabilities, and an output projection (zero bias). Parameter names follow PyTorch's
/// (`in_proj_weight`, `out_proj.weight`, ...), so checkpoints map one to one.
public final class MultiHeadSelfAttention: Layer, ModeSwitching {
  public let name: String
  public let features: Int
  public let heads: Int
  public let dropout: Float
  public let seed: UInt64
  public let inProjection: Dense
  public let outProjection: Dense
  public var isTraining = true
  /// Forward calls made in training (the dropout stream), as in `Dropout`.
  public var calls: UInt64 = 0

  private var probs = ReusableBuffer()
  private var context = ReusableBuffer()
  private var dqkv = ReusableBuffer()
  private var scratch = ScratchBuffers()
  private var mask: [UInt8] = []
  private var qkv: Tensor?
  private var droppedForward = false

  public init(
    _ store: ParameterStore, name: String, group: String, features: Int, heads: Int, dropout: Float = 0,
    seed: UInt64 = 0
  ) {
    precondition(features % heads == 0, "\(name): \(features) features do not split into \(heads) heads")
    self.name = name
    self.features = features
    self.heads = heads
    self.dropout = dropout
    self.seed = seed ^ SeededGenerator.hash(name)
    inProjection = Dense(
      store, name: name + ".in_proj", group: group, inFeatures: features, outFeatures: 3 * features,
      weightInit: .xavierUniform(fanIn: features, fanOut: 3 * features), biasInit: .zeros,
      weightName: name + ".in_proj_weight", biasName: name + ".in_proj_bias")
    outProjection = Dense(
      store, name: name + ".out_proj", group: group, inFeatures: features, outFeatures: features,
      biasInit: .zeros)
  }

  public func outputShape(for s: [Int]) -> [Int] {
    precondition(s.count == 3 && s[2] == features, "\(name): expected B×T×\(features), got \(s)")
    return s
  }

  public func forwardFLOPs(for s: [Int]) -> Int {
    let b = s[0]
    let t = s[1]
    let d = features
    return 2 * b * t * d * 4 * d + 4 * b * t * t * d
  }

  public func forward(_ x: Tensor) -> Tensor {
    _ = outputShape(for: x.shape)
    let b = x.n
    let t = x.shape[1]
    let d = features
    let h = heads
    let dh = d / h
    let qkvT = inProjection.forward(x)
    qkv = qkvT
    let p = probs.tensor([b, h, t, t])
    let ctx = context.tensor([b, t, d])
    let drop = isTraining && dropout > 0
    droppedForward = drop
    if drop && mask.count < p.count { mask = [UInt8](repeating: 0, count: p.count) }
    let call = calls
    if isTraining { calls += 1 }
    let scale = 1 / Float(dh).squareRoot()
    let threshold = UInt32(min(Double(dropout) * 4_294_967_296.0, 4_294_967_295.0))
    let keep = 1 / (1 - dropout)
    let ranges = chunkRanges(b * h, parts: Threads.chunks)
    let tmp = scratch.tensors(ranges.count, [t * t])
    let sd = seed
    let qd = qkvT.data
    let pd = p.data
    let cd = ctx.data
    mask.withUnsafeMutableBufferPointer { mb in
      let m = mb.baseAddress
      parallelFor(ranges.count) { ti in
        for bh in ranges[ti] {
          let bi = bh / h
          let hi = bh % h
          let q = qd + bi * t * 3 * d + hi * dh
          let k = q + d
          let v = q + 2 * d
          let s = pd + bh * t * t
          sgemm(
            transA: false, transB: true, m: t, n: t, k: dh, alpha: scale, a: q, lda: 3 * d, b: k, ldb: 3 * d,
            c: s, ldc: t)
          for r in 0..<t { softmaxRow(s + r * t, t) }
          var weights = UnsafePointer(s)
          if drop, let m {
            let dp = tmp[ti].data
            let mk = m + bh * t * t
            var rng = SeededGenerator(seed: sd, stream: call, substream: UInt64(bh))
            for j in 0..<(t * t) {
              let kept = UInt32(truncatingIfNeeded: rng.next()) >= threshold
              mk[j] = kept ? 1 : 0
              dp[j] = kept ? s[j] * keep : 0
            }
            weights = UnsafePointer(dp)
          }
          sgemm(
            transA: false, transB: false, m: t, n: dh, k: t, a: weights, lda: t, b: v, ldb: 3 * d,
            c: cd + bi * t * d + hi * dh, ldc: d)
        }
      }
    }
    return outProjection.forward(ctx)
  }

  public func backward(_ dy: Tensor) -> Tensor {
    run(dy, wantInput: true)!
  }

  public func backwardParameters(_ dy: Tensor) {
    _ = run(dy, wantInput: false)
  }

  private func run(_ dy: Tensor, wantInput: Bool) -> Tensor? {
    guard let qkvT = qkv else { preconditionFailure("\(name): backward before forward") }
    let b = dy.n
    let t = dy.shape[1]
    let d = features
    let h = heads
    let dh = d / h
    let dctx = outProjection.backward(dy)
    let g = dqkv.tensor([b, t, 3 * d])
    let p = probs.tensor([b, h, t, t])
    let scale = 1 / Float(dh).squareRoot()
    let keep = 1 / (1 - dropout)
    let drop = droppedForward
    let ranges = chunkRanges(b * h, parts: Threads.chunks)
    let tmp = scratch.tensors(ranges.count, [2 * t * t])
    let qd = qkvT.data
    let pd = p.data
    let gd = g.data
    let dc = dctx.data
    mask.withUnsafeBufferPointer { mb in
      let m = mb.baseAddress
      parallelFor(ranges.count) { ti in
        let weights = tmp[ti].data
        let dP = weights + t * t
        for bh in ranges[ti] {
          let bi = bh / h
          let hi = bh % h
          let q = qd + bi * t * 3 * d + hi * dh
          let k = q + d
          let v = q + 2 * d
          let gq = gd + bi * t * 3 * d + hi * dh
          let gk = gq + d
          let gv = gq + 2 * d
          let s = pd + bh * t * t
          let dct = dc + bi * t * d + hi * dh
          var wp = UnsafePointer(s)
          if drop, let m {
            let mk = m + bh * t * t
            for j in 0..<(t * t) { weights[j] = mk[j] != 0 ? s[j] * keep : 0 }
            wp = UnsafePointer(weights)
          }
          // dV = P'ᵀ·dC, dP' = dC·Vᵀ
          sgemm(
            transA: true, transB: false, m: t, n: dh, k: t, a: wp, lda: t, b: dct, ldb: d, c: gv, ldc: 3 * d)
          sgemm(
            transA: false, transB: true, m: t, n: t, k: dh, a: dct, lda: d, b: v, ldb: 3 * d, c: dP, ldc: t)
          if drop, let m {
            let mk = m + bh * t * t
            for j in 0..<(t * t) { dP[j] = mk[j] != 0 ? dP[j] * keep : 0 }
          }
          // Softmax backward: dS = P ⊙ (dP − Σ_j dP·P), row by row.
          for r in 0..<t {
            let pr = s + r * t
            let gr = dP + r * t
            var dot: Float = 0
            for j in 0..<t { dot += gr[j] * pr[j] }
            for j in 0..<t { gr[j] = pr[j] * (gr[j] - dot) }
          }
          // dQ = dS·K/√d_h, dK = dSᵀ·Q/√d_h
          sgemm(
            transA: false, transB: false, m: t, n: dh, k: t, alpha: scale, a: dP, lda: t, b: k, ldb: 3 * d,
            c: gq, ldc: 3 * d)
          sgemm(
            transA: true, transB: false, m: t, n: dh, k: t, alpha: scale, a: dP, lda: t, b: q, ldb: 3 * d,
            c: gk, ldc: 3 * d)
        }
      }
    }
    if wantInput { return inProjection.backward(g) }
    inProjection.backwardParameters(g)
    return nil
  }
}

/// In-place softmax of one row, max-subtracted, 8 lanes at a time.
@inline(__always)
func softmaxRow(_ r: UnsafeMutablePointer<Float>, _ n: Int) {
  var mx = -Float.infinity
  var j = 0
  if n >= 8 {
    var m8 = load8(r)
    j = 8
    while j + 8 <= n {
      m8 = pointwiseMax8(m8, load8(r + j))
      j += 8
    }
    mx = m8.max()
  }
  while j < n {
    mx = max(mx, r[j])
    j += 1
  }
  let mv = F8(repeating: mx)
  var s8 = F8()
  j = 0
  while j + 8 <= n {
    let e = exp8(load8(r + j) - mv)
    store8(r + j, e)
    s8 += e
    j += 8
  }
  var s = s8.sum()
  while j < n {
    let e = expf(r[j] - mx)
    r[j] = e
    s += e
    j += 1
  }
  let inv = 1 / s
  let iv = F8(repeating: inv)
  j = 0
  while j + 8 <= n {
    store8(r + j, load8(r + j) * iv)
    j += 8
  }
  while j < n {
    r[j] *= inv
    j += 1
  }
}

@inline(__always)
func pointwiseMax8(_ a: F8, _ b: F8) -> F8 { a.replacing(with: b, where: a .< b) }

/// A pre-norm transformer encoder layer, as PyTorch's `TransformerEncoderLayer` with
/// `norm_first=True, batch_first=True`: x + drop(attn(LN(x))), then + drop(W₂·drop(act(W₁·LN(x)))).
/// Parameter names follow PyTorch's (`self_attn.*`, `linear1`, `linear2`, `norm1`, `norm2`).
public final class TransformerEncoderLayer: Layer, ModeSwitching {
  public let name: String
  public let norm1: LayerNorm
  public let attention: MultiHeadSelfAttention
  public let dropout1: Dropout
  public let norm2: LayerNorm
  public let linear1: Dense
  public let activation: GELU
  public let dropoutMLP: Dropout
  public let linear2: Dense
  public let dropout2: Dropout
  private let add1 = Add()
  private let add2 = Add()
  private var residualGrad = ReusableBuffer()
  private var inGrad = ReusableBuffer()

  public init(
    _ store: ParameterStore, name: String, group: String, features: Int, heads: Int, mlp: Int,
    dropout: Float = 0.1, activation: GELU.Approximation = .exact, seed: UInt64 = 0
  ) {
    self.name = name
    let s = seed ^ SeededGenerator.hash(name)
    norm1 = LayerNorm(store, name: name + ".norm1", group: group, features: features)
    attention = MultiHeadSelfAttention(
      store, name: name + ".self_attn", group: group, features: features, heads: heads, dropout: dropout,
      seed: s)
    dropout1 = Dropout(dropout, seed: s &+ 1)
    norm2 = LayerNorm(store, name: name + ".norm2", group: group, features: features)
    linear1 = Dense(store, name: name + ".linear1", group: group, inFeatures: features, outFeatures: mlp)
    self.activation = GELU(activation)
    dropoutMLP = Dropout(dropout, seed: s &+ 2)
    linear2 = Dense(store, name: name + ".linear2", group: group, inFeatures: mlp, outFeatures: features)
    dropout2 = Dropout(dropout, seed: s &+ 3)
  }

  public var isTraining: Bool {
    get { attention.isTraining }
    set {
      attention.isTraining = newValue
      dropout1.isTraining = newValue
      dropoutMLP.isTraining = newValue
      dropout2.isTraining = newValue
    }
  }

  public func outputShape(for s: [Int]) -> [Int] { s }

  public func forwardFLOPs(for s: [Int]) -> Int {
    attention.forwardFLOPs(for: s) + linear1.forwardFLOPs(for: s)
      + linear2.forwardFLOPs(for: linear1.outputShape(for: s)) + 2 * norm1.forwardFLOPs(for: s)
  }

  public func forward(_ x: Tensor) -> Tensor {
    let a = dropout1.forward(attention.forward(norm1.forward(x)))
    let x1 = add1.forward(x, a)
    let m = linear1.forward(norm2.forward(x1))
    let b = dropout2.forward(linear2.forward(dropoutMLP.forward(activation.forward(m))))
    return add2.forward(x1, b)
  }

  public func backward(_ dy: Tensor) -> Tensor {
    run(dy, wantInput: true)!
  }

  public func backwardParameters(_ dy: Tensor) {
    _ = run(dy, wantInput: false)
  }

  private func run(_ dy: Tensor, wantInput: Bool) -> Tensor? {
    var g = dropout2.backward(dy)
    g = linear2.backward(g)
    g = dropoutMLP.backward(g)
    g = activation.backward(g)
    g = linear1.backward(g)
    g = norm2.backward(g)
    let dx1 = residualGrad.tensor(dy.shape)
    dx1.copy(from: dy)
    accumulate(g, into: dx1)
    var h = dropout1.backward(dx1)
    h = attention.backward(h)
    guard wantInput else {
      norm1.backwardParameters(h)
      return nil
    }
    h = norm1.backward(h)
    let dx = inGrad.tensor(dy.shape)
    dx.copy(from: dx1)
    accumulate(h, into: dx)
    return dx
  }
}
