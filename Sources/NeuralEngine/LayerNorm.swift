/// Layer normalisation over the last dimension with a learned scale and shift (PyTorch's
/// `LayerNorm`, eps 1e-5, biased variance).
public final class LayerNorm: Layer {
  public let name: String
  public let features: Int
  public let epsilon: Float
  public let gamma: Parameter
  public let beta: Parameter

  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var partials = ScratchBuffers()
  private var input: Tensor?
  private var mean: [Float] = []
  private var invStd: [Float] = []

  public init(_ store: ParameterStore, name: String, group: String, features: Int, epsilon: Float = 1e-5) {
    self.name = name
    self.features = features
    self.epsilon = epsilon
    gamma = store.add(name + ".weight", shape: [features], group: group, initializer: .ones)
    beta = store.add(name + ".bias", shape: [features], group: group, initializer: .zeros)
  }

  public func outputShape(for s: [Int]) -> [Int] {
    precondition(s.last == features, "\(name): expected last dimension \(features), got \(s)")
    return s
  }

  public func forwardFLOPs(for s: [Int]) -> Int { 5 * Tensor.count(of: s) }

  public func forward(_ x: Tensor) -> Tensor {
    let y = out.tensor(outputShape(for: x.shape))
    input = x
    let d = features
    let rows = x.count / d
    if mean.count < rows {
      mean = [Float](repeating: 0, count: rows)
      invStd = [Float](repeating: 0, count: rows)
    }
    let g = gamma.value.data
    let b = beta.value.data
    let xd = x.data
    let yd = y.data
    let eps = Double(epsilon)
    mean.withUnsafeMutableBufferPointer { mb in
      invStd.withUnsafeMutableBufferPointer { ib in
        parallelChunks(rows) { range in
          for r in range {
            let xr = xd + r * d
            let yr = yd + r * d
            var s = 0.0
            for j in 0..<d { s += Double(xr[j]) }
            let m = s / Double(d)
            var v = 0.0
            for j in 0..<d {
              let t = Double(xr[j]) - m
              v += t * t
            }
            let inv = Float(1 / (v / Double(d) + eps).squareRoot())
            let mf = Float(m)
            mb[r] = mf
            ib[r] = inv
            for j in 0..<d { yr[j] = (xr[j] - mf) * inv * g[j] + b[j] }
          }
        }
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
    guard let x = input else { preconditionFailure("\(name): backward before forward") }
    let d = features
    let rows = x.count / d
    let wantG = gamma.requiresGrad
    let wantB = beta.requiresGrad
    let dx: Tensor? = wantInput ? inGrad.tensor(x.shape) : nil
    let ranges = chunkRanges(rows, parts: Threads.chunks)
    let parts = partials.tensors(ranges.count, [2 * d])
    let g = gamma.value.data
    let xd = x.data
    let gd = dy.data
    mean.withUnsafeBufferPointer { mb in
      invStd.withUnsafeBufferPointer { ib in
        parallelFor(ranges.count) { t in
          let pg = parts[t].data
          let pb = pg + d
          pg.update(repeating: 0, count: 2 * d)
          for r in ranges[t] {
            let xr = xd + r * d
            let gr = gd + r * d
            let m = mb[r]
            let inv = ib[r]
            var sumG: Float = 0
            var sumGX: Float = 0
            for j in 0..<d {
              let xh = (xr[j] - m) * inv
              pg[j] += gr[j] * xh
              pb[j] += gr[j]
              let dxh = gr[j] * g[j]
              sumG += dxh
              sumGX += dxh * xh
            }
            if let dx {
              let dr = dx.data + r * d
              let a = sumG / Float(d)
              let b = sumGX / Float(d)
              for j in 0..<d {
                let xh = (xr[j] - m) * inv
                dr[j] = inv * (gr[j] * g[j] - a - xh * b)
              }
            }
          }
        }
      }
    }
    if wantG || wantB {
      for part in parts {
        if wantG { addInPlace(gamma.grad.data, part.data, d) }
        if wantB { addInPlace(beta.grad.data, part.data + d, d) }
      }
    }
    return dx
  }
}
