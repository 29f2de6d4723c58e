/// Vectorised exp and erf for the elementwise layers (softmax, GELU). glibc's scalar expf/erff
/// cost 3-10 ns each; these run 8 lanes in a few dozen instructions.

/// Eight float lanes: the width of one AVX2 register, the engine's vector unit.
public typealias F8 = SIMD8<Float>

/// e^x, 8 lanes: x = n·ln2 + r with |r| ≤ ln2/2 (Cody-Waite split of ln2), e^r by a degree-6
/// polynomial (Cephes expf's coefficients), 2^n built in the exponent bits. Relative error
/// below 2e-7 over the range; inputs are clamped to [−87.3, 88] (results 1.2e-38 … 1.7e38) so
/// the exponent bits never overflow.
@inline(__always)
func exp8(_ x: F8) -> F8 {
  var v = x.replacing(with: 88.0, where: x .> 88.0)
  v.replace(with: -87.3, where: v .< -87.3)
  // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low mantissa bits (a
  // float-to-int conversion through the generic SIMD initialiser would be a runtime call).
  let magic = F8(repeating: 12_582_912)
  let t = magic.addingProduct(v, F8(repeating: 1.442_695_04))
  let n = t - magic
  var r = v.addingProduct(n, F8(repeating: -0.693_359_375))
  r = r.addingProduct(n, F8(repeating: 2.121_944_4e-4))
  var p = F8(repeating: 1.987_569_15e-4)
  p = p * r + 1.398_199_95e-3
  p = p * r + 8.333_451_9e-3
  p = p * r + 4.166_579_6e-2
  p = p * r + 1.666_666_55e-1
  p = p * r + 5.000_000_12e-1
  let r2 = r * r
  let er = (p * r2 + r) + 1
  let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
  return er * unsafeBitCast(bits, to: F8.self)
}

/// erf(x), 8 lanes: Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), odd symmetric.
@inline(__always)
func erf8(_ x: F8) -> F8 {
  let ax = x.replacing(with: -x, where: x .< 0)
  let t = 1 / (F8(repeating: 1).addingProduct(ax, F8(repeating: 0.327_591_1)))
  var p = F8(repeating: 1.061_405_429)
  p = p * t - 1.453_152_027
  p = p * t + 1.421_413_741
  p = p * t - 0.284_496_736
  p = p * t + 0.254_829_592
  let y = 1 - p * t * exp8(-(ax * ax))
  return y.replacing(with: -y, where: x .< 0)
}

/// Eight floats from `p` (no alignment needed). Public, and inlinable so that it stays one
/// instruction, for layers built outside the engine (the reference network's task connection).
@inlinable @inline(__always)
public func load8(_ p: UnsafePointer<Float>) -> F8 {
  UnsafeRawPointer(p).loadUnaligned(as: F8.self)
}

/// Eight floats to `p` (no alignment needed); public and inlinable as `load8`.
@inlinable @inline(__always)
public func store8(_ p: UnsafeMutablePointer<Float>, _ v: F8) {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
}
