/// One reusable buffer per parallel chunk (per thread), for per-thread scratch such as im2col
/// columns or partial weight gradients. Sized before a parallel region, used inside it.
public struct ScratchBuffers: Sendable {
  private var buffers: [ReusableBuffer] = []

  public init() {}

  /// `count` views of `shape`, each over its own memory.
  public mutating func tensors(_ count: Int, _ shape: [Int]) -> [Tensor] {
    while buffers.count < count { buffers.append(ReusableBuffer()) }
    return (0..<count).map { buffers[$0].tensor(shape) }
  }

  public var bytes: Int { buffers.reduce(0) { $0 + $1.bytes } }
}

/// Scratch that the convolutions of one network share: layers run one at a time, so one set of
/// per-thread bands, column tiles and partial gradients serves them all. (Two networks have two
/// stores, hence two sets; one network must not run on two threads at once.)
final class SharedScratch: @unchecked Sendable {
  var cols = ScratchBuffers()
  var weightParts = ScratchBuffers()
  var biasParts = ScratchBuffers()
  var bands = ScratchBuffers()
  var gradBands = ScratchBuffers()
  var winogradV = ScratchBuffers()
  var winogradM = ScratchBuffers()
}

/// Adds `count` floats of `src` into `dst`.
@inline(__always)
public func addInPlace(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ count: Int) {
  var i = 0
  while i + 8 <= count {
    let a = UnsafeRawPointer(dst + i).loadUnaligned(as: SIMD8<Float>.self)
    let b = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(dst + i).storeBytes(of: a + b, as: SIMD8<Float>.self)
    i += 8
  }
  while i < count {
    dst[i] += src[i]
    i += 1
  }
}

/// Sum of `count` floats, accumulated in Double in a fixed order.
@inline(__always)
public func sumDouble(_ p: UnsafePointer<Float>, _ count: Int) -> Double {
  var acc = SIMD4<Double>()
  var i = 0
  while i + 8 <= count {
    let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
    acc += SIMD4<Double>(Double(v[0]), Double(v[1]), Double(v[2]), Double(v[3]))
    acc += SIMD4<Double>(Double(v[4]), Double(v[5]), Double(v[6]), Double(v[7]))
    i += 8
  }
  var s = acc.sum()
  while i < count {
    s += Double(p[i])
    i += 1
  }
  return s
}
