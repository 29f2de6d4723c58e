import NeuralEngine

/// One task's TTC unit at one level (after stage 3 or 4), DESIGN §4 and the paper:
///
///     y_p = x_p + Σ_{q ∈ sources} sigmoid(beta_{p←q}) ⊙ x_q      (per channel; alpha[p][p] = 1)
///
/// Each connection is its own parameter `<p>.ttc<level>.from_<q>.beta` of shape [C] in task p's
/// column group, so freezing p freezes exactly what p reads with. A task that reads nothing passes
/// its input through untouched (no copy, no arithmetic), which is what keeps a task that does not
/// read a retrained one bit-identical.
final class TaskConnectionUnit {
  let task: ModelTask
  let level: Int
  let sources: [ModelTask]
  let channels: Int
  let betas: [Parameter]

  private var out = ReusableBuffer()
  private var inputs: [Tensor] = []

  init(
    _ store: ParameterStore, task: ModelTask, level: Int, sources: [ModelTask], channels: Int,
    betaInit: Float
  ) {
    self.task = task
    self.level = level
    self.sources = sources
    self.channels = channels
    betas = sources.map { q in
      store.add(
        "\(task.rawValue).ttc\(level).from_\(q.rawValue).beta", shape: [channels], group: task.columnGroup,
        initializer: .constant(betaInit))
    }
  }

  /// alpha_{p←q} per channel for source index `i`.
  func alpha(_ i: Int) -> [Float] {
    let b = betas[i].value
    return (0..<channels).map { sigmoid(b[$0]) }
  }

  /// `own` is x_p; `others[i]` is x of `sources[i]`. Returns `own` itself when there are no sources.
  func forward(own: Tensor, others: [Tensor]) -> Tensor {
    precondition(others.count == sources.count, "\(task) ttc\(level): \(others.count) inputs for \(sources)")
    guard !sources.isEmpty else { return own }
    let shape = own.shape
    precondition(shape.count == 4 && shape[1] == channels && others.allSatisfy { $0.shape == shape })
    inputs = others
    let y = out.tensor(shape)
    let n = shape[0]
    let c = channels
    let hw = shape[2] * shape[3]
    let alphas = sources.indices.map(alpha)
    let xd = own.data
    let yd = y.data
    let od = others.map(\.data)
    parallelChunks(n * c) { range in
      for blk in range {
        let ch = blk % c
        let dst = yd + blk * hw
        let src = xd + blk * hw
        for i in 0..<hw { dst[i] = src[i] }
        // The same order as the reference: y = y + alpha_q * x_q, one source at a time.
        for (k, o) in od.enumerated() {
          let a = alphas[k][ch]
          let s = o + blk * hw
          for i in 0..<hw { dst[i] = dst[i] + a * s[i] }
        }
      }
    }
    return y
  }

  /// Adds the beta gradients for the output gradient `dy` (when the betas learn):
  /// dL/dbeta_q[c] = alpha(1 − alpha) · Σ_{n,h,w} dy ⊙ x_q, summed in a fixed order.
  func backwardParameters(_ dy: Tensor) {
    for (k, beta) in betas.enumerated() where beta.requiresGrad {
      let x = inputs[k]
      let shape = x.shape
      let n = shape[0]
      let c = channels
      let hw = shape[2] * shape[3]
      let a = alpha(k)
      var sums = [Double](repeating: 0, count: c)
      let xd = x.data
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
      let g = beta.grad.data
      for ch in 0..<c { g[ch] += Float(Double(a[ch] * (1 - a[ch])) * sums[ch]) }
    }
  }

  /// dx_q += alpha_q ⊙ dy for source index `k` (the gradient that flows back into the source).
  func accumulateSourceGradient(_ dy: Tensor, source k: Int, into dst: Tensor) {
    precondition(dst.shape == dy.shape)
    let c = channels
    let hw = dy.shape[2] * dy.shape[3]
    let a = alpha(k)
    let gd = dy.data
    let dd = dst.data
    parallelChunks(dy.shape[0] * c) { range in
      for blk in range {
        let al = a[blk % c]
        let s = gd + blk * hw
        let d = dd + blk * hw
        for i in 0..<hw { d[i] += al * s[i] }
      }
    }
  }
}
