/// The bootstrap's random numbers: reproducible from a seed on every platform and Swift
/// version, which `SystemRandomNumberGenerator` and the standard library's
/// `random(in:)` (whose algorithm may change) are not.
///
/// xoshiro256** (Blackman & Vigna 2018), its state seeded from SplitMix64. Replicate b of a
/// bootstrap uses SplitMix64 outputs 4b ... 4b+3 of the seed, so replicates are independent
/// streams and can run in any order or in parallel with the same result.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
  private var s0: UInt64
  private var s1: UInt64
  private var s2: UInt64
  private var s3: UInt64

  /// The generator for `stream` (e.g. a bootstrap replicate) of `seed`.
  public init(seed: UInt64, stream: UInt64 = 0) {
    let base = 4 &* stream
    s0 = splitMix64(seed: seed, index: base)
    s1 = splitMix64(seed: seed, index: base &+ 1)
    s2 = splitMix64(seed: seed, index: base &+ 2)
    s3 = splitMix64(seed: seed, index: base &+ 3)
    if s0 | s1 | s2 | s3 == 0 { s0 = 1 }  // the all-zero state is a fixed point
  }

  @inlinable @inline(__always)
  static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  public mutating func next() -> UInt64 {
    let result = Xoshiro256StarStar.rotl(s1 &* 5, 7) &* 9
    let t = s1 << 17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = Xoshiro256StarStar.rotl(s3, 45)
    return result
  }

  /// A uniform integer in 0..<bound (Lemire 2019, multiply and reject): exact, and fixed
  /// here so that a seed means the same resamples everywhere.
  public mutating func below(_ bound: UInt64) -> UInt64 {
    precondition(bound > 0)
    var m = next().multipliedFullWidth(by: bound)
    if m.low < bound {
      let threshold = (0 &- bound) % bound
      while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
    }
    return m.high
  }
}

/// Output `index` (0-based) of SplitMix64 started at `seed`: z = seed + (index + 1) γ, mixed.
public func splitMix64(seed: UInt64, index: UInt64) -> UInt64 {
  var z = seed &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
  z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
  z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
  return z ^ (z >> 31)
}
