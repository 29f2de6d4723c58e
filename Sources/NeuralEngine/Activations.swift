#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// max(0, x). Backward passes the gradient where the output is positive (PyTorch's convention:
/// zero gradient at exactly 0).
public final class ReLU: Layer {
  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var output: Tensor?

  public init() {}

  public func outputShape(for s: [Int]) -> [Int] { s }

  public func forward(_ x: Tensor) -> Tensor {
    let y = out.tensor(x.shape)
    output = y
    let xd = x.data
    let yd = y.data
    parallelChunks((x.count + 4095) / 4096) { blocks in
      let lo = blocks.lowerBound * 4096
      let hi = min(x.count, blocks.upperBound * 4096)
      var i = lo
      while i + 8 <= hi {
        let v = UnsafeRawPointer(xd + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(yd + i).storeBytes(of: relu8(v), as: SIMD8<Float>.self)
        i += 8
      }
      while i < hi {
        yd[i] = max(0, xd[i])
        i += 1
      }
    }
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    guard let y = output else { preconditionFailure("ReLU: backward before forward") }
    let dx = inGrad.tensor(y.shape)
    let yd = y.data
    let gd = dy.data
    let dd = dx.data
    parallelChunks((y.count + 4095) / 4096) { blocks in
      let lo = blocks.lowerBound * 4096
      let hi = min(y.count, blocks.upperBound * 4096)
      for i in lo..<hi { dd[i] = yd[i] > 0 ? gd[i] : 0 }
    }
    return dx
  }
}

/// GELU, named by its formula: `.exact` is x·Φ(x) with the error function (PyTorch's default
/// `gelu`), `.tanh` is the tanh approximation (`approximate="tanh"`).
public final class GELU: Layer {
  public enum Approximation: String, Sendable {
    case exact
    case tanh
  }

  public let approximation: Approximation
  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var input: Tensor?

  public init(_ approximation: Approximation = .exact) {
    self.approximation = approximation
  }

  public func outputShape(for s: [Int]) -> [Int] { s }

  public func forwardFLOPs(for s: [Int]) -> Int { 10 * Tensor.count(of: s) }

  public func forward(_ x: Tensor) -> Tensor {
    let y = out.tensor(x.shape)
    input = x
    let xd = x.data
    let yd = y.data
    let exact = approximation == .exact
    parallelChunks((x.count + 4095) / 4096) { blocks in
      let lo = blocks.lowerBound * 4096
      let hi = min(x.count, blocks.upperBound * 4096)
      for i in lo..<hi { yd[i] = exact ? geluExact(xd[i]) : geluTanh(xd[i]) }
    }
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    guard let x = input else { preconditionFailure("GELU: backward before forward") }
    let dx = inGrad.tensor(x.shape)
    let xd = x.data
    let gd = dy.data
    let dd = dx.data
    let exact = approximation == .exact
    parallelChunks((x.count + 4095) / 4096) { blocks in
      let lo = blocks.lowerBound * 4096
      let hi = min(x.count, blocks.upperBound * 4096)
      for i in lo..<hi { dd[i] = gd[i] * (exact ? geluExactDerivative(xd[i]) : geluTanhDerivative(xd[i])) }
    }
    return dx
  }
}

@inline(__always) func geluExact(_ x: Float) -> Float {
  0.5 * x * (1 + erff(x * 0.707_106_77))
}

@inline(__always) func geluExactDerivative(_ x: Float) -> Float {
  // Φ(x) + x·φ(x)
  let cdf = 0.5 * (1 + erff(x * 0.707_106_77))
  let pdf = expf(-0.5 * x * x) * 0.398_942_3
  return cdf + x * pdf
}

@inline(__always) func geluTanh(_ x: Float) -> Float {
  let u = 0.797_884_56 * (x + 0.044715 * x * x * x)
  return 0.5 * x * (1 + tanhf(u))
}

@inline(__always) func geluTanhDerivative(_ x: Float) -> Float {
  let u = 0.797_884_56 * (x + 0.044715 * x * x * x)
  let t = tanhf(u)
  let du = 0.797_884_56 * (1 + 3 * 0.044715 * x * x)
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
}

/// max(v, 0) lane-wise, as one vmaxps (`pointwiseMax` is an out-of-line generic call).
@inline(__always)
func relu8(_ v: SIMD8<Float>) -> SIMD8<Float> {
  v.replacing(with: 0, where: v .< 0)
}

@inline(__always) func geluExact8(_ x: F8) -> F8 {
  0.5 * x * (1 + erf8(x * 0.707_106_77))
}

@inline(__always) func geluExactDerivative8(_ x: F8) -> F8 {
  let cdf = 0.5 * (1 + erf8(x * 0.707_106_77))
  let pdf = exp8(-0.5 * x * x) * 0.398_942_3
  return cdf.addingProduct(x, pdf)
}

/// tanh(u) = 1 − 2/(e^{2u} + 1), exact in the limits (e^{2u} clamps to 0 or 3e38).
@inline(__always) func tanh8(_ u: F8) -> F8 {
  1 - 2 / (exp8(2 * u) + 1)
}

@inline(__always) func geluTanh8(_ x: F8) -> F8 {
  let u = 0.797_884_56 * (x + 0.044715 * x * x * x)
  return 0.5 * x * (1 + tanh8(u))
}

@inline(__always) func geluTanhDerivative8(_ x: F8) -> F8 {
  let u = 0.797_884_56 * (x + 0.044715 * x * x * x)
  let t = tanh8(u)
  let du = 0.797_884_56 * (1 + 3 * 0.044715 * x * x)
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
}
