/// Inverted dropout: in training each element is zeroed with probability p and the rest scaled
/// by 1/(1−p); in inference it is the identity (the input is passed through, not copied).
///
/// Masks are seeded: call k, image i draws from the stream (seed, k, i), so the masks are the
/// same for any thread count. `calls` counts forward calls in training; a training loop that
/// resumes can set it to continue the same sequence.
public final class Dropout: Layer, ModeSwitching {
  public let probability: Float
  public let seed: UInt64
  public var isTraining = true
  public var calls: UInt64 = 0

  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var mask: [UInt8] = []
  private var wasTraining = false
  private var shape: [Int] = []

  /// `seed` should differ per layer (e.g. the network seed mixed with the layer's name).
  public init(_ probability: Float, seed: UInt64) {
    precondition(probability >= 0 && probability < 1, "dropout probability \(probability) outside [0, 1)")
    self.probability = probability
    self.seed = seed
  }

  public func outputShape(for s: [Int]) -> [Int] { s }

  public func forward(_ x: Tensor) -> Tensor {
    shape = x.shape
    wasTraining = isTraining && probability > 0
    guard wasTraining else { return x }
    let y = out.tensor(x.shape)
    if mask.count < x.count { mask = [UInt8](repeating: 0, count: x.count) }
    let n = x.shape.first ?? 1
    let per = x.count / max(n, 1)
    let threshold = UInt32(min(Double(probability) * 4_294_967_296.0, 4_294_967_295.0))
    let scale = 1 / (1 - probability)
    let call = calls
    calls += 1
    let sd = seed
    let xd = x.data
    let yd = y.data
    mask.withUnsafeMutableBufferPointer { mb in
      let m = mb.baseAddress!
      parallelChunks(n) { range in
        for i in range {
          var rng = SeededGenerator(seed: sd, stream: call, substream: UInt64(i))
          let base = i * per
          let xs = xd + base
          let ys = yd + base
          let ms = m + base
          let th = SIMD8<UInt32>(repeating: threshold)
          let sv = F8(repeating: scale)
          var j = 0
          // 8 elements per 4 draws: each 64-bit draw gives two 32-bit uniforms.
          while j + 8 <= per {
            let r0 = rng.next()
            let r1 = rng.next()
            let r2 = rng.next()
            let r3 = rng.next()
            let u = SIMD8<UInt32>(
              UInt32(truncatingIfNeeded: r0), UInt32(truncatingIfNeeded: r0 >> 32),
              UInt32(truncatingIfNeeded: r1), UInt32(truncatingIfNeeded: r1 >> 32),
              UInt32(truncatingIfNeeded: r2), UInt32(truncatingIfNeeded: r2 >> 32),
              UInt32(truncatingIfNeeded: r3), UInt32(truncatingIfNeeded: r3 >> 32))
            let keep = u .>= th
            store8(ys + j, (load8(xs + j) * sv).replacing(with: 0, where: .!keep))
            let k = SIMD8<UInt8>(
              truncatingIfNeeded: SIMD8<UInt32>(repeating: 0).replacing(with: 1, where: keep))
            UnsafeMutableRawPointer(ms + j).storeBytes(of: k, as: SIMD8<UInt8>.self)
            j += 8
          }
          while j < per {
            let r = rng.next()
            let kept = UInt32(truncatingIfNeeded: r) >= threshold
            ms[j] = kept ? 1 : 0
            ys[j] = kept ? xs[j] * scale : 0
            j += 1
          }
        }
      }
    }
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    guard wasTraining else { return dy }
    let dx = inGrad.tensor(shape)
    let scale = 1 / (1 - probability)
    let gd = dy.data
    let dd = dx.data
    let count = dx.count
    mask.withUnsafeBufferPointer { mb in
      let m = mb.baseAddress!
      parallelChunks((count + 4095) / 4096) { blocks in
        let lo = blocks.lowerBound * 4096
        let hi = min(count, blocks.upperBound * 4096)
        for i in lo..<hi { dd[i] = m[i] != 0 ? gd[i] * scale : 0 }
      }
    }
    return dx
  }

  /// The keep mask of the last training forward (1 kept, 0 dropped), for tests.
  public var lastMask: [UInt8] { Array(mask.prefix(Tensor.count(of: shape))) }
}
