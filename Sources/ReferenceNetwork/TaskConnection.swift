import NeuralEngine

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Task-to-task connection unit (MTA-CNN's TTC; a per-channel cross-stitch unit, Misra et al.
/// 2016) between P task columns of equal shape:
///
///     y_p[n, c] = Σ_q alpha[p][q][c] · x_q[n, c],   alpha[p][q][c] = sigmoid(beta_pq[c])
///
/// Each learned pair (p, q) is its own parameter beta_pq of shape (C), in task p's group, so
/// freezing a task freezes exactly what it reads. Any pair can instead be a constant: DESIGN §4
/// fixes alpha[p][p] = 1, and a frozen task reads a newly added one through a constant 0, so
/// its outputs stay bit-identical. Constant pairs have no parameter at all.
public final class TaskConnection {
  public let name: String
  public let tasks: Int
  public let channels: Int
  /// beta_pq, or nil where alpha[p][q] is a constant.
  public let betas: [[Parameter?]]
  /// alpha[p][q] where it is fixed (nil where learned).
  public let constants: [[Float?]]

  private var outs: [ReusableBuffer]
  private var grads: [ReusableBuffer]
  private var inputs: [Tensor] = []

  /// The general form. `reads[p][q]` (p ≠ q) makes alpha[p][q] learned, starting at
  /// sigmoid(`crossBeta`); other off-diagonal pairs are 0. The diagonal is 1 unless `selfBeta`
  /// is given, which makes it learned too (the reference PyTorch network). `parameterName(p, q)`
  /// names beta_pq (default `<name>.beta.<p>.<q>`); `groups[p]` is task p's group.
  public init(
    _ store: ParameterStore, name: String, groups: [String], channels: Int, reads: [[Bool]],
    crossBeta: Float, selfBeta: Float? = nil, parameterName: ((Int, Int) -> String)? = nil
  ) {
    let p = groups.count
    precondition(p >= 1 && channels >= 1 && reads.count == p && reads.allSatisfy { $0.count == p })
    self.name = name
    self.tasks = p
    self.channels = channels
    var betas: [[Parameter?]] = []
    var constants: [[Float?]] = []
    for row in 0..<p {
      var b: [Parameter?] = []
      var c: [Float?] = []
      for q in 0..<p {
        let learnedSelf = row == q && selfBeta != nil
        let learnedCross = row != q && reads[row][q]
        if learnedSelf || learnedCross {
          let init0 = learnedSelf ? selfBeta! : crossBeta
          let pname = parameterName?(row, q) ?? "\(name).beta.\(row).\(q)"
          b.append(store.add(pname, shape: [channels], group: groups[row], initializer: .constant(init0)))
          c.append(nil)
        } else {
          b.append(nil)
          c.append(row == q ? 1 : 0)
        }
      }
      betas.append(b)
      constants.append(c)
    }
    self.betas = betas
    self.constants = constants
    outs = [ReusableBuffer](repeating: ReusableBuffer(), count: p)
    grads = [ReusableBuffer](repeating: ReusableBuffer(), count: p)
  }

  /// The reference network's cross-stitch unit: every alpha learned, starting at 0.9 on the
  /// diagonal and 0.1 elsewhere (PyTorch's `CrossStitch`; its (C, P, P) beta is beta_pq[c]).
  public convenience init(
    _ store: ParameterStore, name: String, groups: [String], channels: Int, selfAlpha: Float = 0.9,
    crossAlpha: Float = 0.1
  ) {
    func logit(_ a: Float) -> Float { Float(log(Double(a) / (1 - Double(a)))) }
    let p = groups.count
    self.init(
      store, name: name, groups: groups, channels: channels,
      reads: [[Bool]](repeating: [Bool](repeating: true, count: p), count: p), crossBeta: logit(crossAlpha),
      selfBeta: logit(selfAlpha))
  }

  /// alpha[p][q] per channel, as used now.
  public func alpha(_ p: Int, _ q: Int) -> [Float] {
    if let c = constants[p][q] { return [Float](repeating: c, count: channels) }
    let b = betas[p][q]!.value
    return (0..<channels).map { sigmoid(b[$0]) }
  }

  public func forward(_ xs: [Tensor]) -> [Tensor] {
    precondition(xs.count == tasks, "\(name): \(xs.count) inputs for \(tasks) tasks")
    let shape = xs[0].shape
    precondition(
      shape.count == 4 && shape[1] == channels && xs.allSatisfy { $0.shape == shape },
      "\(name): inputs \(xs.map(\.shape))")
    inputs = xs
    let n = shape[0]
    let c = channels
    let hw = shape[2] * shape[3]
    var ys: [Tensor] = []
    for p in 0..<tasks {
      let y = outs[p].tensor(shape)
      ys.append(y)
      // Only the pairs that contribute: a constant 0 reads nothing (a frozen task's output is
      // then exactly its own input, bit for bit).
      let terms = (0..<tasks).filter { constants[p][$0] != 0 }.map { q in (xs[q].data, alpha(p, q)) }
      let yd = y.data
      parallelChunks(n * c) { range in
        for blk in range {
          let ch = blk % c
          let dst = yd + blk * hw
          guard let first = terms.first else {
            dst.update(repeating: 0, count: hw)
            continue
          }
          scaleCopy(first.0 + blk * hw, dst, hw, first.1[ch])
          for (src, a) in terms.dropFirst() { scaleAdd(src + blk * hw, dst, hw, a[ch]) }
        }
      }
    }
    return ys
  }

  /// Gradients with respect to the inputs wanted (`wantInput[q]`); nil elsewhere. A nil `dys[p]`
  /// means output p does not reach the loss. Adds the gradients of learned, unfrozen betas.
  public func backward(_ dys: [Tensor?], wantInput: [Bool]) -> [Tensor?] {
    precondition(dys.count == tasks && wantInput.count == tasks)
    let shape = inputs[0].shape
    let n = shape[0]
    let c = channels
    let hw = shape[2] * shape[3]
    // Beta gradients: alpha(1 − alpha)·Σ dy_p·x_q per channel, summed in a fixed order.
    for p in 0..<tasks {
      guard let dy = dys[p] else { continue }
      for q in 0..<tasks {
        guard let beta = betas[p][q], beta.requiresGrad else { continue }
        let a = alpha(p, q)
        var sums = [Double](repeating: 0, count: c)
        let xd = inputs[q].data
        let gd = dy.data
        sums.withUnsafeMutableBufferPointer { sb in
          parallelChunks(c) { range in
            for ch in range {
              var s = 0.0
              for i in 0..<n {
                let off = (i * c + ch) * hw
                s += dot(gd + off, xd + off, hw)
              }
              sb[ch] = s
            }
          }
        }
        let g = beta.grad.data
        for ch in 0..<c { g[ch] += Float(Double(a[ch] * (1 - a[ch])) * sums[ch]) }
      }
    }
    var out: [Tensor?] = []
    for q in 0..<tasks {
      guard wantInput[q] else {
        out.append(nil)
        continue
      }
      let dx = grads[q].tensor(shape)
      let dxd = dx.data
      let sources = (0..<tasks).compactMap { p -> (UnsafeMutablePointer<Float>, [Float])? in
        guard let dy = dys[p], constants[p][q] != 0 else { return nil }
        return (dy.data, alpha(p, q))
      }
      parallelChunks(n * c) { range in
        for blk in range {
          let ch = blk % c
          let dst = dxd + blk * hw
          guard let first = sources.first else {
            dst.update(repeating: 0, count: hw)
            continue
          }
          scaleCopy(first.0 + blk * hw, dst, hw, first.1[ch])
          for (src, a) in sources.dropFirst() { scaleAdd(src + blk * hw, dst, hw, a[ch]) }
        }
      }
      out.append(dx)
    }
    return out
  }
}

/// dst = a·src (a copy when a is 1).
@inline(__always)
func scaleCopy(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ a: Float) {
  if a == 1 {
    dst.update(from: src, count: n)
    return
  }
  let av = F8(repeating: a)
  var i = 0
  while i + 8 <= n {
    store8(dst + i, load8(src + i) * av)
    i += 8
  }
  while i < n {
    dst[i] = a * src[i]
    i += 1
  }
}

/// dst += a·src.
@inline(__always)
func scaleAdd(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ a: Float) {
  let av = F8(repeating: a)
  var i = 0
  while i + 8 <= n {
    store8(dst + i, load8(dst + i).addingProduct(load8(src + i), av))
    i += 8
  }
  while i < n {
    dst[i] += a * src[i]
    i += 1
  }
}

/// Σ a·b in Double over short Float runs.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
  var total = 0.0
  var i = 0
  while i < n {
    let end = min(n, i + 512)
    var acc = F8()
    while i + 8 <= end {
      acc = acc.addingProduct(load8(a + i), load8(b + i))
      i += 8
    }
    var s = acc.sum()
    while i < end {
      s += a[i] * b[i]
      i += 1
    }
    total += Double(s)
  }
  return total
}
