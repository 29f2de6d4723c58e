/// Batch normalisation over N, H and W per channel (PyTorch's `BatchNorm2d`: eps 1e-5,
/// momentum 0.1, running variance updated with the unbiased batch variance), with an optional
/// fused ReLU so the pair costs one pass over memory instead of two.
///
/// Training mode normalises with the batch statistics and updates the running ones; inference
/// mode uses the running statistics and changes nothing. A frozen network part runs in
/// inference mode so its outputs stay bit-identical.
public final class BatchNorm2D: Layer, ModeSwitching {
  public let name: String
  public let channels: Int
  public let epsilon: Float
  /// Weight of the batch statistics in the running ones. Settable so that a recalibration pass can
  /// average exactly (1/k at the k-th batch: PyTorch's `momentum=None`); training uses 0.1.
  public var momentum: Float
  public let fusedReLU: Bool
  public let gamma: Parameter
  public let beta: Parameter
  public let runningMean: Parameter
  public let runningVar: Parameter
  public var isTraining = true

  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var input: Tensor?
  private var output: Tensor?
  private var mean: [Float]
  private var invStd: [Float]
  private var trainedForward = true

  public init(
    _ store: ParameterStore, name: String, group: String, channels: Int, epsilon: Float = 1e-5,
    momentum: Float = 0.1, fusedReLU: Bool = false
  ) {
    self.name = name
    self.channels = channels
    self.epsilon = epsilon
    self.momentum = momentum
    self.fusedReLU = fusedReLU
    gamma = store.add(name + ".weight", shape: [channels], group: group, initializer: .ones)
    beta = store.add(name + ".bias", shape: [channels], group: group, initializer: .zeros)
    runningMean = store.add(
      name + ".running_mean", shape: [channels], group: group, initializer: .zeros, kind: .buffer)
    runningVar = store.add(
      name + ".running_var", shape: [channels], group: group, initializer: .ones, kind: .buffer)
    mean = [Float](repeating: 0, count: channels)
    invStd = [Float](repeating: 1, count: channels)
  }

  public func outputShape(for s: [Int]) -> [Int] {
    precondition(s.count == 4 && s[1] == channels, "\(name): expected N×\(channels)×H×W, got \(s)")
    return s
  }

  public func forwardFLOPs(for s: [Int]) -> Int { 4 * Tensor.count(of: s) }

  public func forward(_ x: Tensor) -> Tensor {
    _ = outputShape(for: x.shape)
    let y = out.tensor(x.shape)
    input = x
    output = y
    trainedForward = isTraining
    let n = x.n
    let c = channels
    let hw = x.h * x.w
    let xd = x.data
    let yd = y.data
    if isTraining {
      let count = n * hw
      var mu = [Float](repeating: 0, count: c)
      var istd = [Float](repeating: 0, count: c)
      var unbiased = [Float](repeating: 0, count: c)
      let eps = Double(epsilon)
      mu.withUnsafeMutableBufferPointer { mub in
        istd.withUnsafeMutableBufferPointer { isb in
          unbiased.withUnsafeMutableBufferPointer { ub in
            parallelChunks(c) { range in
              for ch in range {
                var s = 0.0
                var ss = 0.0
                for i in 0..<n {
                  let p = xd + (i * c + ch) * hw
                  let (a, b) = sumAndSquares(p, hw)
                  s += a
                  ss += b
                }
                let m = s / Double(count)
                let v = max(0, ss / Double(count) - m * m)
                mub[ch] = Float(m)
                isb[ch] = Float(1 / (v + eps).squareRoot())
                ub[ch] = Float(count > 1 ? v * Double(count) / Double(count - 1) : v)
              }
            }
          }
        }
      }
      mean = mu
      invStd = istd
      let rm = runningMean.value.data
      let rv = runningVar.value.data
      for ch in 0..<c {
        rm[ch] = (1 - momentum) * rm[ch] + momentum * mu[ch]
        rv[ch] = (1 - momentum) * rv[ch] + momentum * unbiased[ch]
      }
    } else {
      let rm = runningMean.value.data
      let rv = runningVar.value.data
      for ch in 0..<c {
        mean[ch] = rm[ch]
        invStd[ch] = 1 / (rv[ch] + epsilon).squareRoot()
      }
    }
    let g = gamma.value.data
    let b = beta.value.data
    let relu = fusedReLU
    let mu = mean
    let istd = invStd
    parallelChunks(n * c) { range in
      for blk in range {
        let ch = blk % c
        let scale = g[ch] * istd[ch]
        let shift = b[ch] - mu[ch] * scale
        affine(xd + blk * hw, yd + blk * hw, hw, scale, shift, relu)
      }
    }
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    run(dy, wantInput: true)!
  }

  public func backwardParameters(_ dy: Tensor) {
    _ = run(dy, wantInput: false)
  }

  private func run(_ dy: Tensor, wantInput: Bool) -> Tensor? {
    guard let x = input, let y = output else { preconditionFailure("\(name): backward before forward") }
    precondition(dy.shape == x.shape, "\(name): gradient shape \(dy.shape) for input \(x.shape)")
    let n = x.n
    let c = channels
    let hw = x.h * x.w
    let xd = x.data
    let yd = y.data
    let dyd = dy.data
    let relu = fusedReLU
    let mu = mean
    let istd = invStd
    // Per channel: Σ dy' and Σ dy'·x̂, where dy' is dy masked by the ReLU.
    var sumDy = [Double](repeating: 0, count: c)
    var sumDyXhat = [Double](repeating: 0, count: c)
    sumDy.withUnsafeMutableBufferPointer { sd in
      sumDyXhat.withUnsafeMutableBufferPointer { sx in
        parallelChunks(c) { range in
          for ch in range {
            var a = 0.0
            var b = 0.0
            for i in 0..<n {
              let off = (i * c + ch) * hw
              let (s1, s2) = maskedGradientSums(dyd + off, xd + off, relu ? yd + off : nil, hw, mu[ch])
              a += s1
              b += s2
            }
            sd[ch] = a
            sx[ch] = b * Double(istd[ch])
          }
        }
      }
    }
    if gamma.requiresGrad {
      let gg = gamma.grad.data
      for ch in 0..<c { gg[ch] += Float(sumDyXhat[ch]) }
    }
    if beta.requiresGrad {
      let gb = beta.grad.data
      for ch in 0..<c { gb[ch] += Float(sumDy[ch]) }
    }
    guard wantInput else { return nil }
    let dx = inGrad.tensor(x.shape)
    let dxd = dx.data
    let g = gamma.value.data
    let count = Float(n * hw)
    let training = trainedForward
    parallelChunks(n * c) { range in
      for blk in range {
        let ch = blk % c
        let k = g[ch] * istd[ch]
        // dx = k·(dy' − mean(dy') − x̂·mean(dy'·x̂)) in training; k·dy' with fixed statistics.
        let a = training ? Float(sumDy[ch]) / count : 0
        let b = training ? Float(sumDyXhat[ch]) / count : 0
        let off = blk * hw
        batchNormInputGradient(
          dyd + off, xd + off, relu ? yd + off : nil, dxd + off, hw, k: k, meanDy: a, meanDyXhat: b,
          mean: mu[ch], invStd: istd[ch])
      }
    }
    return dx
  }
}

/// Σx and Σx² of a block, in Double.
@inline(__always)
func sumAndSquares(_ p: UnsafePointer<Float>, _ n: Int) -> (Double, Double) {
  var s = SIMD8<Float>()
  var ss = SIMD8<Float>()
  var total = 0.0
  var totalSq = 0.0
  var i = 0
  // Float accumulators over short runs, folded into Double, to keep precision over big blocks.
  while i + 8 <= n {
    let end = min(n, i + 512) & ~7
    while i + 8 <= end {
      let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
      s += v
      ss = ss.addingProduct(v, v)
      i += 8
    }
    total += Double(s.sum())
    totalSq += Double(ss.sum())
    s = SIMD8<Float>()
    ss = SIMD8<Float>()
    if i + 8 > n { break }
  }
  while i < n {
    total += Double(p[i])
    totalSq += Double(p[i]) * Double(p[i])
    i += 1
  }
  return (total, totalSq)
}

/// y = max(0?, scale·x + shift).
@inline(__always)
func affine(
  _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ scale: Float, _ shift: Float,
  _ relu: Bool
) {
  let sv = SIMD8<Float>(repeating: scale)
  let bv = SIMD8<Float>(repeating: shift)
  var i = 0
  if relu {
    while i + 8 <= n {
      let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(y + i).storeBytes(
        of: relu8(bv.addingProduct(v, sv)), as: SIMD8<Float>.self)
      i += 8
    }
    while i < n {
      y[i] = max(0, x[i] * scale + shift)
      i += 1
    }
  } else {
    while i + 8 <= n {
      let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(y + i).storeBytes(of: bv.addingProduct(v, sv), as: SIMD8<Float>.self)
      i += 8
    }
    while i < n {
      y[i] = x[i] * scale + shift
      i += 1
    }
  }
}

/// Σdy' and Σdy'·(x − mean) over a block, dy' = dy where y > 0 (when `y` is given).
@inline(__always)
func maskedGradientSums(
  _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>?, _ n: Int, _ mean: Float
) -> (Double, Double) {
  var a = SIMD8<Float>()
  var b = SIMD8<Float>()
  let mv = SIMD8<Float>(repeating: mean)
  let zero = SIMD8<Float>()
  var s1 = 0.0
  var s2 = 0.0
  var i = 0
  while i + 8 <= n {
    let end = min(n, i + 512) & ~7
    while i + 8 <= end {
      var g = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self)
      if let y {
        let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
        g.replace(with: zero, where: yv .<= zero)
      }
      let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - mv
      a += g
      b = b.addingProduct(g, xv)
      i += 8
    }
    s1 += Double(a.sum())
    s2 += Double(b.sum())
    a = SIMD8<Float>()
    b = SIMD8<Float>()
    if i + 8 > n { break }
  }
  while i < n {
    let g = (y == nil || y![i] > 0) ? dy[i] : 0
    s1 += Double(g)
    s2 += Double(g) * Double(x[i] - mean)
    i += 1
  }
  return (s1, s2)
}

@inline(__always)
func batchNormInputGradient(
  _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>?,
  _ dx: UnsafeMutablePointer<Float>, _ n: Int, k: Float, meanDy: Float, meanDyXhat: Float, mean: Float,
  invStd: Float
) {
  let kv = SIMD8<Float>(repeating: k)
  let av = SIMD8<Float>(repeating: meanDy)
  let bv = SIMD8<Float>(repeating: meanDyXhat * invStd)
  let mv = SIMD8<Float>(repeating: mean)
  let zero = SIMD8<Float>()
  var i = 0
  while i + 8 <= n {
    var g = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self)
    if let y {
      let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
      g.replace(with: zero, where: yv .<= zero)
    }
    let xc = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - mv
    let r = kv * ((g - av) - xc * bv)
    UnsafeMutableRawPointer(dx + i).storeBytes(of: r, as: SIMD8<Float>.self)
    i += 8
  }
  while i < n {
    let g = (y == nil || y![i] > 0) ? dy[i] : 0
    dx[i] = k * ((g - meanDy) - (x[i] - mean) * meanDyXhat * invStd)
    i += 1
  }
}
