/// ×2 spatial upsampling, NCHW: bilinear under either `align_corners` convention, or nearest.
///
/// With `alignCorners` the corner pixels of input and output coincide: source = dst·(in−1)/(out−1)
/// (PyTorch `align_corners=True`, TransUNet's decoder). Without, pixel centres are aligned:
/// source = (dst + ½)·in/out − ½, clamped at 0 (PyTorch's default). Nearest takes source ⌊dst/2⌋.
public final class Upsample2x: Layer {
  public enum Mode: Sendable, Equatable {
    case bilinear(alignCorners: Bool)
    case nearest
  }

  public let mode: Mode
  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var inputShape: [Int] = []

  public init(_ mode: Mode = .bilinear(alignCorners: true)) {
    self.mode = mode
  }

  public func outputShape(for s: [Int]) -> [Int] {
    precondition(s.count == 4, "Upsample2x expects NCHW, got \(s)")
    return [s[0], s[1], 2 * s[2], 2 * s[3]]
  }

  public func forwardFLOPs(for s: [Int]) -> Int { 6 * Tensor.count(of: outputShape(for: s)) }

  /// For each output index: the two source indices and the weight of the second.
  struct Taps {
    var i0: [Int]
    var i1: [Int]
    var lambda: [Float]
  }

  func taps(input n: Int) -> Taps {
    let o = 2 * n
    var t = Taps(
      i0: [Int](repeating: 0, count: o), i1: [Int](repeating: 0, count: o),
      lambda: [Float](repeating: 0, count: o))
    for d in 0..<o {
      switch mode {
      case .nearest:
        t.i0[d] = d / 2
        t.i1[d] = d / 2
      case .bilinear(let ac):
        let src: Float
        if ac {
          src = o > 1 ? Float(d) * Float(n - 1) / Float(o - 1) : 0
        } else {
          src = max(0, (Float(d) + 0.5) * Float(n) / Float(o) - 0.5)
        }
        let i0 = min(Int(src), n - 1)
        t.i0[d] = i0
        t.i1[d] = min(i0 + 1, n - 1)
        t.lambda[d] = src - Float(i0)
      }
    }
    return t
  }

  public func forward(_ x: Tensor) -> Tensor {
    let os = outputShape(for: x.shape)
    let y = out.tensor(os)
    inputShape = x.shape
    let h = x.h
    let w = x.w
    let ho = os[2]
    let wo = os[3]
    let ty = taps(input: h)
    let tx = taps(input: w)
    let xd = x.data
    let yd = y.data
    parallelChunks(x.n * x.c) { range in
      for plane in range {
        let src = xd + plane * h * w
        let dst = yd + plane * ho * wo
        for oy in 0..<ho {
          let r0 = src + ty.i0[oy] * w
          let r1 = src + ty.i1[oy] * w
          let ly = ty.lambda[oy]
          let hy = 1 - ly
          let row = dst + oy * wo
          for ox in 0..<wo {
            let a = tx.i0[ox]
            let b = tx.i1[ox]
            let lx = tx.lambda[ox]
            let hx = 1 - lx
            row[ox] = hy * (hx * r0[a] + lx * r0[b]) + ly * (hx * r1[a] + lx * r1[b])
          }
        }
      }
    }
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    let dx = inGrad.tensor(inputShape)
    let h = inputShape[2]
    let w = inputShape[3]
    let ho = 2 * h
    let wo = 2 * w
    let ty = taps(input: h)
    let tx = taps(input: w)
    let gd = dy.data
    let dd = dx.data
    parallelChunks(inputShape[0] * inputShape[1]) { range in
      for plane in range {
        let d = dd + plane * h * w
        d.update(repeating: 0, count: h * w)
        let g = gd + plane * ho * wo
        for oy in 0..<ho {
          let r0 = d + ty.i0[oy] * w
          let r1 = d + ty.i1[oy] * w
          let ly = ty.lambda[oy]
          let hy = 1 - ly
          let row = g + oy * wo
          for ox in 0..<wo {
            let a = tx.i0[ox]
            let b = tx.i1[ox]
            let lx = tx.lambda[ox]
            let hx = 1 - lx
            let v = row[ox]
            r0[a] += hy * hx * v
            r0[b] += hy * lx * v
            r1[a] += ly * hx * v
            r1[b] += ly * lx * v
          }
        }
      }
    }
    return dx
  }
}

/// Joins two NCHW tensors along channels (skip connections). Backward splits the gradient.
public final class Concat {
  private var out = ReusableBuffer()
  private var gradA = ReusableBuffer()
  private var gradB = ReusableBuffer()
  private var shapes: ([Int], [Int]) = ([], [])

  public init() {}

  public func outputShape(_ a: [Int], _ b: [Int]) -> [Int] {
    precondition(
      a.count == 4 && b.count == 4 && a[0] == b[0] && a[2] == b[2] && a[3] == b[3],
      "Concat needs equal N, H, W: \(a) and \(b)")
    return [a[0], a[1] + b[1], a[2], a[3]]
  }

  public func forward(_ a: Tensor, _ b: Tensor) -> Tensor {
    let y = out.tensor(outputShape(a.shape, b.shape))
    shapes = (a.shape, b.shape)
    let sa = a.count / a.n
    let sb = b.count / b.n
    let ad = a.data
    let bd = b.data
    let yd = y.data
    parallelChunks(a.n) { range in
      for i in range {
        (yd + i * (sa + sb)).update(from: ad + i * sa, count: sa)
        (yd + i * (sa + sb) + sa).update(from: bd + i * sb, count: sb)
      }
    }
    return y
  }

  public func backward(_ dy: Tensor) -> (Tensor, Tensor) {
    let da = gradA.tensor(shapes.0)
    let db = gradB.tensor(shapes.1)
    let sa = da.count / da.n
    let sb = db.count / db.n
    let gd = dy.data
    let ad = da.data
    let bd = db.data
    parallelChunks(da.n) { range in
      for i in range {
        (ad + i * sa).update(from: gd + i * (sa + sb), count: sa)
        (bd + i * sb).update(from: gd + i * (sa + sb) + sa, count: sb)
      }
    }
    return (da, db)
  }
}
