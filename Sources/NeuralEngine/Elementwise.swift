/// Elementwise sum of two tensors of equal shape (residual connections). Backward hands the
/// same gradient to both inputs, so it has no backward of its own.
public final class Add {
  private var out = ReusableBuffer()

  public init() {}

  public func forward(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "Add: shapes \(a.shape) and \(b.shape) differ")
    let y = out.tensor(a.shape)
    let ad = a.data
    let bd = b.data
    let yd = y.data
    let count = a.count
    parallelChunks((count + 4095) / 4096) { blocks in
      let lo = blocks.lowerBound * 4096
      let hi = min(count, blocks.upperBound * 4096)
      for i in lo..<hi { yd[i] = ad[i] + bd[i] }
    }
    return y
  }
}

/// Adds `src` into `dst` elementwise (gradient accumulation where an output feeds two layers).
public func accumulate(_ src: Tensor, into dst: Tensor) {
  precondition(src.count == dst.count, "accumulate: \(src.shape) into \(dst.shape)")
  let s = src.data
  let d = dst.data
  let count = src.count
  parallelChunks((count + 4095) / 4096) { blocks in
    let lo = blocks.lowerBound * 4096
    let hi = min(count, blocks.upperBound * 4096)
    addInPlace(d + lo, s + lo, hi - lo)
  }
}

/// A learned position embedding added to a token sequence: (B, T, D) + pos (1, T, D).
public final class PositionEmbedding: Layer {
  public let name: String
  public let tokens: Int
  public let features: Int
  public let embedding: Parameter
  private var out = ReusableBuffer()

  /// Initialised as TransUNet does: truncated normal with std 0.02.
  public init(_ store: ParameterStore, name: String, group: String, tokens: Int, features: Int) {
    self.name = name
    self.tokens = tokens
    self.features = features
    embedding = store.add(
      name, shape: [1, tokens, features], group: group, initializer: .truncatedNormal(std: 0.02))
  }

  public func outputShape(for s: [Int]) -> [Int] {
    precondition(
      s.count == 3 && s[1] == tokens && s[2] == features,
      "\(name): expected B×\(tokens)×\(features), got \(s)")
    return s
  }

  public func forward(_ x: Tensor) -> Tensor {
    let y = out.tensor(outputShape(for: x.shape))
    let per = tokens * features
    let p = embedding.value.data
    let xd = x.data
    let yd = y.data
    parallelChunks(x.n) { range in
      for i in range {
        for j in 0..<per { yd[i * per + j] = xd[i * per + j] + p[j] }
      }
    }
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    backwardParameters(dy)
    return dy
  }

  public func backwardParameters(_ dy: Tensor) {
    guard embedding.requiresGrad else { return }
    let per = tokens * features
    let g = embedding.grad.data
    for i in 0..<dy.n { addInPlace(g, dy.data + i * per, per) }
  }
}

/// (B, C, H, W) feature map → (B, H·W, C) tokens.
public final class ToTokens: Layer {
  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var inputShape: [Int] = []

  public init() {}

  public func outputShape(for s: [Int]) -> [Int] { [s[0], s[2] * s[3], s[1]] }

  public func forward(_ x: Tensor) -> Tensor {
    inputShape = x.shape
    let y = out.tensor(outputShape(for: x.shape))
    transposeBatch(x.data, y.data, batch: x.n, rows: x.c, cols: x.h * x.w)
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    let dx = inGrad.tensor(inputShape)
    transposeBatch(dy.data, dx.data, batch: dx.n, rows: dx.h * dx.w, cols: dx.c)
    return dx
  }
}

/// (B, H·W, C) tokens → (B, C, H, W) feature map.
public final class FromTokens: Layer {
  public let height: Int
  public let width: Int
  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var inputShape: [Int] = []

  public init(height: Int, width: Int) {
    self.height = height
    self.width = width
  }

  public func outputShape(for s: [Int]) -> [Int] {
    precondition(
      s.count == 3 && s[1] == height * width, "FromTokens: expected B×\(height * width)×C, got \(s)")
    return [s[0], s[2], height, width]
  }

  public func forward(_ x: Tensor) -> Tensor {
    inputShape = x.shape
    let y = out.tensor(outputShape(for: x.shape))
    transposeBatch(x.data, y.data, batch: x.n, rows: height * width, cols: x.shape[2])
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    let dx = inGrad.tensor(inputShape)
    transposeBatch(dy.data, dx.data, batch: dy.n, rows: dy.c, cols: height * width)
    return dx
  }
}

/// For each batch item, dst (cols × rows) = transpose of src (rows × cols).
func transposeBatch(
  _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, batch: Int, rows: Int, cols: Int
) {
  let per = rows * cols
  parallelChunks(batch) { range in
    for b in range {
      let s = src + b * per
      let d = dst + b * per
      // 8×8 tiles keep both sides in cache.
      var r0 = 0
      while r0 < rows {
        let r1 = min(rows, r0 + 8)
        var c0 = 0
        while c0 < cols {
          let c1 = min(cols, c0 + 8)
          for r in r0..<r1 {
            for c in c0..<c1 { d[c * rows + r] = s[r * cols + c] }
          }
          c0 = c1
        }
        r0 = r1
      }
    }
  }
}
