/// 2×2 max pooling with stride 2 (odd rows/columns at the edge are dropped, as in PyTorch).
/// The position of each maximum (first one in scan order on ties) is kept for backward.
public final class MaxPool2x2: Layer {
  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var argmax: [UInt8] = []
  private var inputShape: [Int] = []

  public init() {}

  public func outputShape(for s: [Int]) -> [Int] {
    precondition(s.count == 4, "MaxPool2x2 expects NCHW, got \(s)")
    return [s[0], s[1], s[2] / 2, s[3] / 2]
  }

  public func forward(_ x: Tensor) -> Tensor {
    let os = outputShape(for: x.shape)
    let y = out.tensor(os)
    inputShape = x.shape
    if argmax.count < y.count { argmax = [UInt8](repeating: 0, count: y.count) }
    let h = x.h
    let w = x.w
    let ho = os[2]
    let wo = os[3]
    let xd = x.data
    let yd = y.data
    argmax.withUnsafeMutableBufferPointer { am in
      let amp = am.baseAddress!
      parallelChunks(x.n * x.c) { range in
        for plane in range {
          let src = xd + plane * h * w
          let dst = yd + plane * ho * wo
          let arg = amp + plane * ho * wo
          for oy in 0..<ho {
            let r0 = src + 2 * oy * w
            let r1 = r0 + w
            for ox in 0..<wo {
              let a = r0[2 * ox]
              let b = r0[2 * ox + 1]
              let c = r1[2 * ox]
              let d = r1[2 * ox + 1]
              var m = a
              var k: UInt8 = 0
              if b > m {
                m = b
                k = 1
              }
              if c > m {
                m = c
                k = 2
              }
              if d > m {
                m = d
                k = 3
              }
              dst[oy * wo + ox] = m
              arg[oy * wo + ox] = k
            }
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
    let ho = h / 2
    let wo = w / 2
    let gd = dy.data
    let dd = dx.data
    argmax.withUnsafeBufferPointer { am in
      let amp = am.baseAddress!
      parallelChunks(inputShape[0] * inputShape[1]) { range in
        for plane in range {
          let d = dd + plane * h * w
          d.update(repeating: 0, count: h * w)
          let g = gd + plane * ho * wo
          let arg = amp + plane * ho * wo
          for oy in 0..<ho {
            for ox in 0..<wo {
              let k = Int(arg[oy * wo + ox])
              d[(2 * oy + (k >> 1)) * w + 2 * ox + (k & 1)] = g[oy * wo + ox]
            }
          }
        }
      }
    }
    return dx
  }
}

/// Mean over H and W: (N, C, H, W) → (N, C).
public final class GlobalAvgPool: Layer {
  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var inputShape: [Int] = []

  public init() {}

  public func outputShape(for s: [Int]) -> [Int] {
    precondition(s.count == 4, "GlobalAvgPool expects NCHW, got \(s)")
    return [s[0], s[1]]
  }

  public func forward(_ x: Tensor) -> Tensor {
    let y = out.tensor(outputShape(for: x.shape))
    inputShape = x.shape
    let hw = x.h * x.w
    let xd = x.data
    let yd = y.data
    parallelChunks(x.n * x.c) { range in
      for p in range { yd[p] = Float(sumDouble(xd + p * hw, hw) / Double(hw)) }
    }
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    let dx = inGrad.tensor(inputShape)
    let hw = inputShape[2] * inputShape[3]
    let gd = dy.data
    let dd = dx.data
    parallelChunks(inputShape[0] * inputShape[1]) { range in
      for p in range { (dd + p * hw).update(repeating: gd[p] / Float(hw), count: hw) }
    }
    return dx
  }
}
