/// 2-D convolution, NCHW, square kernel (3×3 or 1×1 in the network), stride 1 or 2, zero
/// padding ("same" by default: kernel/2), optional bias. Weights are (out, in, k, k) as in
/// PyTorch, so checkpoints map one to one.
///
/// Baseline algorithm: per image, im2col then one sgemm (forward: W·col; weight gradient:
/// dY·colᵀ; input gradient: Wᵀ·dY then col2im). Images are split across threads, each with
/// its own column buffer and its own partial weight gradient, summed in thread order.
public final class Conv2D: Layer {
  public let name: String
  public let inChannels: Int
  public let outChannels: Int
  public let kernel: Int
  public let stride: Int
  public let padding: Int
  public let weight: Parameter
  public let bias: Parameter?

  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var cols = ScratchBuffers()
  private var weightParts = ScratchBuffers()
  private var biasParts = ScratchBuffers()
  private var input: Tensor?

  public init(
    _ store: ParameterStore, name: String, group: String, inChannels: Int, outChannels: Int,
    kernel: Int = 3, stride: Int = 1, padding: Int? = nil, bias: Bool = false
  ) {
    precondition(inChannels > 0 && outChannels > 0 && kernel > 0 && stride > 0)
    self.name = name
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.kernel = kernel
    self.stride = stride
    self.padding = padding ?? kernel / 2
    let fanIn = inChannels * kernel * kernel
    let bound = 1 / Float(fanIn).squareRoot()
    weight = store.add(
      name + ".weight", shape: [outChannels, inChannels, kernel, kernel], group: group,
      initializer: .uniform(bound: bound))
    self.bias =
      bias
      ? store.add(name + ".bias", shape: [outChannels], group: group, initializer: .uniform(bound: bound))
      : nil
  }

  func geometry(_ s: [Int]) -> ConvGeometry {
    precondition(s.count == 4 && s[1] == inChannels, "\(name): expected N×\(inChannels)×H×W input, got \(s)")
    return ConvGeometry(
      channels: inChannels, height: s[2], width: s[3], kernel: kernel, stride: stride, padding: padding)
  }

  public func outputShape(for s: [Int]) -> [Int] {
    let g = geometry(s)
    return [s[0], outChannels, g.outHeight, g.outWidth]
  }

  public func forwardFLOPs(for s: [Int]) -> Int {
    let g = geometry(s)
    return 2 * s[0] * outChannels * g.colRows * g.colCols
  }

  public func forward(_ x: Tensor) -> Tensor {
    let g = geometry(x.shape)
    let n = x.n
    let y = out.tensor(outputShape(for: x.shape))
    input = x
    let kk = g.colRows
    let pp = g.colCols
    let inSize = inChannels * g.height * g.width
    let outSize = outChannels * pp
    let w = weight.value.data
    let b = bias?.value.data
    let cout = outChannels

    func finishBias(_ yn: UnsafeMutablePointer<Float>) {
      guard let b else { return }
      for co in 0..<cout {
        let row = yn + co * pp
        let bv = b[co]
        for i in 0..<pp { row[i] += bv }
      }
    }

    let threads = Threads.count
    if n >= threads {
      let colT = g.isIdentity ? [] : cols.tensors(threads, [kk * pp])
      parallelChunksIndexed(n, parts: threads) { t, range in
        for i in range {
          let xn = x.data + i * inSize
          let yn = y.data + i * outSize
          var colp = UnsafePointer(xn)
          if !g.isIdentity {
            im2col(xn, g, colT[t].data)
            colp = UnsafePointer(colT[t].data)
          }
          sgemm(
            transA: false, transB: false, m: cout, n: pp, k: kk, a: w, lda: kk, b: colp, ldb: pp,
            c: yn, ldc: pp)
          finishBias(yn)
        }
      }
    } else {
      let col = g.isIdentity ? nil : cols.tensors(1, [kk * pp])[0]
      for i in 0..<n {
        let xn = x.data + i * inSize
        let yn = y.data + i * outSize
        var colp = UnsafePointer(xn)
        if let col {
          parallelChunks(inChannels) { im2col(xn, g, col.data, channels: $0) }
          colp = UnsafePointer(col.data)
        }
        parallelSgemm(
          transA: false, transB: false, m: cout, n: pp, k: kk, a: w, lda: kk, b: colp, ldb: pp,
          c: yn, ldc: pp)
        finishBias(yn)
      }
    }
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    run(dy, wantInput: true)!
  }

  public func backwardParameters(_ dy: Tensor) {
    _ = run(dy, wantInput: false)
  }

  private func run(_ dy: Tensor, wantInput: Bool) -> Tensor? {
    guard let x = input else { preconditionFailure("\(name): backward before forward") }
    let g = geometry(x.shape)
    precondition(dy.shape == outputShape(for: x.shape), "\(name): gradient shape \(dy.shape)")
    let n = x.n
    let kk = g.colRows
    let pp = g.colCols
    let inSize = inChannels * g.height * g.width
    let outSize = outChannels * pp
    let cout = outChannels
    let wantW = weight.requiresGrad
    let wantB = bias?.requiresGrad ?? false
    if !wantW && !wantB && !wantInput { return nil }
    let dx: Tensor? = wantInput ? inGrad.tensor(x.shape) : nil
    let w = weight.value.data

    let t = Threads.count
    if n >= t {
      let colT = cols.tensors(t, [kk * pp])
      let wParts = wantW ? weightParts.tensors(t, [cout * kk]) : []
      let bParts = wantB ? biasParts.tensors(t, [cout]) : []
      parallelChunksIndexed(n, parts: t) { ti, range in
        if wantW { wParts[ti].fill(0) }
        if wantB { bParts[ti].fill(0) }
        let col = colT[ti].data
        for i in range {
          let xn = x.data + i * inSize
          let dyn = dy.data + i * outSize
          if wantW {
            var colp = UnsafePointer(xn)
            if !g.isIdentity {
              im2col(xn, g, col)
              colp = UnsafePointer(col)
            }
            sgemm(
              transA: false, transB: true, m: cout, n: kk, k: pp, a: dyn, lda: pp, b: colp, ldb: pp,
              beta: 1, c: wParts[ti].data, ldc: kk)
          }
          if wantB {
            let bp = bParts[ti].data
            for co in 0..<cout { bp[co] += Float(sumDouble(dyn + co * pp, pp)) }
          }
          if let dx {
            let dxn = dx.data + i * inSize
            if g.isIdentity {
              sgemm(
                transA: true, transB: false, m: kk, n: pp, k: cout, a: w, lda: kk, b: dyn, ldb: pp,
                c: dxn, ldc: pp)
            } else {
              sgemm(
                transA: true, transB: false, m: kk, n: pp, k: cout, a: w, lda: kk, b: dyn, ldb: pp,
                c: col, ldc: pp)
              col2im(col, g, dxn, accumulate: false)
            }
          }
        }
      }
      if wantW {
        let gw = weight.grad.data
        for part in wParts { addInPlace(gw, part.data, cout * kk) }
      }
      if wantB, let bias {
        let gb = bias.grad.data
        for part in bParts { addInPlace(gb, part.data, cout) }
      }
    } else {
      let col = cols.tensors(1, [kk * pp])[0]
      for i in 0..<n {
        let xn = x.data + i * inSize
        let dyn = dy.data + i * outSize
        if wantW {
          var colp = UnsafePointer(xn)
          if !g.isIdentity {
            parallelChunks(inChannels) { im2col(xn, g, col.data, channels: $0) }
            colp = UnsafePointer(col.data)
          }
          parallelSgemm(
            transA: false, transB: true, m: cout, n: kk, k: pp, a: dyn, lda: pp, b: colp, ldb: pp,
            beta: 1, c: weight.grad.data, ldc: kk)
        }
        if wantB, let bias {
          let gb = bias.grad.data
          for co in 0..<cout { gb[co] += Float(sumDouble(dyn + co * pp, pp)) }
        }
        if let dx {
          let dxn = dx.data + i * inSize
          if g.isIdentity {
            parallelSgemm(
              transA: true, transB: false, m: kk, n: pp, k: cout, a: w, lda: kk, b: dyn, ldb: pp,
              c: dxn, ldc: pp)
          } else {
            parallelSgemm(
              transA: true, transB: false, m: kk, n: pp, k: cout, a: w, lda: kk, b: dyn, ldb: pp,
              c: col.data, ldc: pp)
            parallelChunks(inChannels) { col2im(col.data, g, dxn, accumulate: false, channels: $0) }
          }
        }
      }
    }
    return dx
  }
}
