/// Raw aligned memory for tensors.
///
/// The engine never allocates in a training step: layers and the parameter arena hold
/// `TensorStorage` objects that are created once (or grown, on the first step at a larger
/// batch) and reused. Memory is 64-byte aligned so SIMD loads never straddle cache lines at the
/// start of a buffer, and zero-filled so a fresh buffer is never garbage.
///
/// It is `@unchecked Sendable` because it is plain memory: the layers that write it partition
/// the work between threads so no two threads write the same element.
public final class TensorStorage: @unchecked Sendable {
  public let base: UnsafeMutablePointer<Float>
  public let capacity: Int

  public init(capacity: Int) {
    precondition(capacity >= 0, "negative tensor capacity \(capacity)")
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: max(capacity, 1) * MemoryLayout<Float>.stride, alignment: 64)
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: max(capacity, 1) * 4)
    base = raw.bindMemory(to: Float.self, capacity: max(capacity, 1))
    self.capacity = capacity
  }

  deinit { UnsafeMutableRawPointer(base).deallocate() }
}

/// A shape over flat `Float` storage, row-major; images are NCHW and token sequences
/// (batch, tokens, features).
///
/// A `Tensor` is a view: copying it copies the shape and a reference to its storage, not the
/// data. Layers return views of their own buffers; such a view is valid until that layer runs
/// forward (or backward, for gradients) again.
public struct Tensor: @unchecked Sendable {
  public let shape: [Int]
  public let storage: TensorStorage
  public let offset: Int

  /// A new zero-filled tensor with its own storage.
  public init(shape: [Int]) {
    let n = Tensor.count(of: shape)
    self.shape = shape
    self.storage = TensorStorage(capacity: n)
    self.offset = 0
  }

  /// A new tensor holding `values` (row-major).
  public init(shape: [Int], values: [Float]) {
    precondition(
      Tensor.count(of: shape) == values.count,
      "shape \(shape) holds \(Tensor.count(of: shape)) values, got \(values.count)")
    self.init(shape: shape)
    values.withUnsafeBufferPointer { src in
      if let s = src.baseAddress { data.update(from: s, count: values.count) }
    }
  }

  /// A view of `storage` from `offset`.
  public init(shape: [Int], storage: TensorStorage, offset: Int = 0) {
    precondition(
      offset >= 0 && offset + Tensor.count(of: shape) <= storage.capacity,
      "view \(shape) at \(offset) exceeds storage of \(storage.capacity)")
    self.shape = shape
    self.storage = storage
    self.offset = offset
  }

  public static func count(of shape: [Int]) -> Int {
    var n = 1
    for d in shape {
      precondition(d >= 0, "negative dimension in \(shape)")
      n *= d
    }
    return n
  }

  /// Number of elements.
  public var count: Int { Tensor.count(of: shape) }
  public var rank: Int { shape.count }
  /// Pointer to the first element.
  public var data: UnsafeMutablePointer<Float> { storage.base + offset }

  /// Batch size (first dimension).
  public var n: Int { shape[0] }
  /// Channels of an NCHW tensor.
  public var c: Int { shape[1] }
  /// Height of an NCHW tensor.
  public var h: Int { shape[2] }
  /// Width of an NCHW tensor.
  public var w: Int { shape[3] }

  /// The same elements seen with another shape of equal size.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    precondition(
      Tensor.count(of: newShape) == count, "cannot reshape \(shape) to \(newShape)")
    return Tensor(shape: newShape, storage: storage, offset: offset)
  }

  /// Item `i` of the first dimension, as a view.
  public func slice(_ i: Int) -> Tensor {
    precondition(i >= 0 && i < shape[0], "index \(i) out of range for \(shape)")
    let inner = Array(shape.dropFirst())
    return Tensor(shape: inner, storage: storage, offset: offset + i * Tensor.count(of: inner))
  }

  /// Items `range` of the first dimension, as a view.
  public func slice(_ range: Range<Int>) -> Tensor {
    precondition(range.lowerBound >= 0 && range.upperBound <= shape[0], "range out of \(shape)")
    var s = shape
    s[0] = range.count
    let inner = count / max(shape[0], 1)
    return Tensor(shape: s, storage: storage, offset: offset + range.lowerBound * inner)
  }

  /// A copy of the elements as an array (for tests and checkpoints, not hot paths).
  public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

  public subscript(i: Int) -> Float {
    get { data[i] }
    nonmutating set { data[i] = newValue }
  }

  /// Copies the elements of `other` (same count) into this tensor.
  public func copy(from other: Tensor) {
    precondition(other.count == count, "copy from \(other.shape) into \(shape)")
    data.update(from: other.data, count: count)
  }

  /// Sets every element to `value`.
  public func fill(_ value: Float) {
    data.update(repeating: value, count: count)
  }
}

/// A buffer that a layer owns and reuses every step: it grows when a larger shape is asked
/// for (the first step, or a larger batch) and otherwise hands out a view of the same memory.
public struct ReusableBuffer: Sendable {
  private var storage: TensorStorage?

  public init() {}

  /// A view of the buffer with `shape`; growing it first if needed. Contents are whatever the
  /// last user left (zero when new).
  public mutating func tensor(_ shape: [Int]) -> Tensor {
    let n = Tensor.count(of: shape)
    if storage == nil || storage!.capacity < n {
      storage = TensorStorage(capacity: n)
    }
    return Tensor(shape: shape, storage: storage!, offset: 0)
  }

  /// Bytes held.
  public var bytes: Int { (storage?.capacity ?? 0) * 4 }
}
