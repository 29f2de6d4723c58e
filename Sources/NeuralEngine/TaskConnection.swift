/// Task-to-task connection unit (MTA-CNN's TTC; a per-channel cross-stitch unit, Misra et al.
/// 2016) between P task columns of equal shape:
///
///     y_p[n, c] = Σ_q alpha[p][q][c] · x_q[n, c],   alpha[p][q][c] = sigmoid(beta_p[c, q])
///
/// Each task's row of betas is its own parameter (`<name>.beta.<p>`, shape (C, P)) in that
/// task's group, so freezing a task freezes exactly what it reads. Any entry can instead be a
/// constant: DESIGN §4 fixes alpha[p][p] = 1, and a frozen task reads a new task through a
/// constant 0, so its outputs stay bit-identical.
public final class TaskConnection {
  public let name: String
  public let tasks: Int
  public let channels: Int
  public let betas: [Parameter]
  /// `constants[p][q]`, when set, replaces sigmoid(beta_p[·, q]) for every channel.
  public var constants: [[Float?]]

  private var outs: [ReusableBuffer]
  private var grads: [ReusableBuffer]
  private var inputs: [Tensor] = []

  /// `groups[p]` is task p's parameter group. Betas start at logit(selfAlpha) on the diagonal
  /// and logit(crossAlpha) elsewhere (the reference network's 0.9 and 0.1).
  public init(
    _ store: ParameterStore, name: String, groups: [String], channels: Int, selfAlpha: Float = 0.9,
    crossAlpha: Float = 0.1, constants: [[Float?]]? = nil
  ) {
    let p = groups.count
    precondition(p >= 1 && channels >= 1)
    self.name = name
    self.tasks = p
    self.channels = channels
    func logit(_ a: Float) -> Float { Float(log(Double(a) / (1 - Double(a)))) }
    betas = (0..<p).map { row in
      var v = [Float](repeating: 0, count: channels * p)
      for c in 0..<channels {
        for q in 0..<p { v[c * p + q] = q == row ? logit(selfAlpha) : logit(crossAlpha) }
      }
      return store.add(
        "\(name).beta.\(row)", shape: [channels, p], group: groups[row], initializer: .values(v))
    }
    self.constants =
      constants ?? [[Float?]](repeating: [Float?](repeating: nil, count: p), count: p)
    precondition(self.constants.count == p && self.constants.allSatisfy { $0.count == p })
    outs = [ReusableBuffer](repeating: ReusableBuffer(), count: p)
    grads = [ReusableBuffer](repeating: ReusableBuffer(), count: p)
  }

  /// alpha[p][q] per channel, as used by the last forward (or now, before any).
  public func alpha(_ p: Int, _ q: Int) -> [Float] {
    if let c = constants[p][q] { return [Float](repeating: c, count: channels) }
    let b = betas[p].value
    return (0..<channels).map { sigmoid(b[$0 * tasks + q]) }
  }

  public func forward(_ xs: [Tensor]) -> [Tensor] {
    precondition(xs.count == tasks, "\(name): \(xs.count) inputs for \(tasks) tasks")
    let shape = xs[0].shape
    precondition(
      shape.count == 4 && shape[1] == channels && xs.allSatisfy { $0.shape == shape },
      "\(name): inputs \(xs.map(\.shape))")
    inputs = xs
    let alphas = (0..<tasks).map { p in (0..<tasks).map { q in alpha(p, q) } }
    let n = shape[0]
    let c = channels
    let hw = shape[2] * shape[3]
    var ys: [Tensor] = []
    for p in 0..<tasks {
      let y = outs[p].tensor(shape)
      ys.append(y)
      let yd = y.data
      let al = alphas[p]
      let xds = xs.map(\.data)
      parallelChunks(n * c) { range in
        for blk in range {
          let ch = blk % c
          let dst = yd + blk * hw
          let a0 = al[0][ch]
          let src0 = xds[0] + blk * hw
          for i in 0..<hw { dst[i] = a0 * src0[i] }
          for q in 1..<max(tasks, 1) {
            let a = al[q][ch]
            let src = xds[q] + blk * hw
            for i in 0..<hw { dst[i] += a * src[i] }
          }
        }
      }
    }
    return ys
  }

  /// Gradients with respect to the inputs wanted (`wantInput[q]`); nil elsewhere. A nil `dys[p]`
  /// means output p does not reach the loss. Adds beta gradients for unfrozen learned entries.
  public func backward(_ dys: [Tensor?], wantInput: [Bool]) -> [Tensor?] {
    precondition(dys.count == tasks && wantInput.count == tasks)
    let shape = inputs[0].shape
    let n = shape[0]
    let c = channels
    let hw = shape[2] * shape[3]
    let alphas = (0..<tasks).map { p in (0..<tasks).map { q in alpha(p, q) } }
    // Beta gradients: alpha(1−alpha)·Σ dy_p·x_q per channel, summed in a fixed order.
    for p in 0..<tasks where betas[p].requiresGrad {
      guard let dy = dys[p] else { continue }
      let g = betas[p].grad.data
      for q in 0..<tasks where constants[p][q] == nil {
        var sums = [Double](repeating: 0, count: c)
        let xd = inputs[q].data
        let gd = dy.data
        sums.withUnsafeMutableBufferPointer { sb in
          parallelChunks(c) { range in
            for ch in range {
              var s = 0.0
              for i in 0..<n {
                let off = (i * c + ch) * hw
                var acc: Float = 0
                for j in 0..<hw { acc += gd[off + j] * xd[off + j] }
                s += Double(acc)
              }
              sb[ch] = s
            }
          }
        }
        for ch in 0..<c {
          let a = alphas[p][q][ch]
          g[ch * tasks + q] += Float(Double(a * (1 - a)) * sums[ch])
        }
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
      let sources = (0..<tasks).compactMap { p in dys[p].map { (p, $0.data) } }
      parallelChunks(n * c) { range in
        for blk in range {
          let ch = blk % c
          let dst = dxd + blk * hw
          dst.update(repeating: 0, count: hw)
          for (p, gd) in sources {
            let a = alphas[p][q][ch]
            let src = gd + blk * hw
            for i in 0..<hw { dst[i] += a * src[i] }
          }
        }
      }
      out.append(dx)
    }
    return out
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
