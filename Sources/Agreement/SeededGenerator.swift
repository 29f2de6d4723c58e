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
  /// The high half of the last word, when `next32` has used only its low half.
  private var spare: UInt32 = 0
  private var hasSpare = false

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

extension Xoshiro256StarStar {
  /// 32 random bits: the low half of a fresh 64-bit output, then its high half.
  public mutating func next32() -> UInt32 {
    if hasSpare {
      hasSpare = false
      return spare
    }
    let x = next()
    spare = UInt32(truncatingIfNeeded: x >> 32)
    hasSpare = true
    return UInt32(truncatingIfNeeded: x)
  }

  /// A uniform integer in 0..<bound from 32-bit draws (Lemire's method on 32 bits): half the
  /// generator calls of `below`, which is what bounds the bootstrap's speed.
  public mutating func below32(_ bound: UInt32) -> UInt32 {
    precondition(bound > 0)
    var m = UInt64(next32()) &* UInt64(bound)
    if UInt32(truncatingIfNeeded: m) < bound {
      let threshold = (0 &- bound) % bound
      while UInt32(truncatingIfNeeded: m) < threshold { m = UInt64(next32()) &* UInt64(bound) }
    }
    return UInt32(truncatingIfNeeded: m >> 32)
  }
}

extension Xoshiro256StarStar {
  /// Two successive `below32(bound)` values, the same as calling it twice; the common case
  /// (no spare half pending, neither half near a rejection) takes one 64-bit draw and no
  /// branches on state, which is what the bootstrap's inner loop needs.
  public mutating func pairBelow32(_ bound: UInt32) -> (UInt32, UInt32) {
    if !hasSpare {
      let x = next()
      let b = UInt64(bound)
      let m1 = (x & 0xFFFF_FFFF) &* b
      let m2 = (x >> 32) &* b
      if UInt32(truncatingIfNeeded: m1) >= bound && UInt32(truncatingIfNeeded: m2) >= bound {
        return (UInt32(truncatingIfNeeded: m1 >> 32), UInt32(truncatingIfNeeded: m2 >> 32))
      }
      // Rare (probability about 2 bound / 2^32): finish exactly as below32 would, with the
      // high half still to come.
      spare = UInt32(truncatingIfNeeded: x >> 32)
      hasSpare = true
      var m = m1
      if UInt32(truncatingIfNeeded: m) < bound {
        let threshold = (0 &- bound) % bound
        while UInt32(truncatingIfNeeded: m) < threshold { m = UInt64(next32()) &* b }
      }
      return (UInt32(truncatingIfNeeded: m >> 32), below32(bound))
    }
    return (below32(bound), below32(bound))
  }
}

/// Output `index` (0-based) of SplitMix64 started at `seed`: z = seed + (index + 1) γ, mixed.
public func splitMix64(seed: UInt64, index: UInt64) -> UInt64 {
  var z = seed &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
  z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
  z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
  return z ^ (z >> 31)
}
