/// Fully connected layer over the last dimension: y = x·Wᵀ + b, for x of shape (..., in).
/// Weight (out, in) and bias (out) as in PyTorch's `nn.Linear`.
public final class Dense: Layer {
  public let name: String
  public let inFeatures: Int
  public let outFeatures: Int
  public let weight: Parameter
  public let bias: Parameter?

  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var input: Tensor?

  /// `weightInit`/`biasInit` default to PyTorch's Linear: U(±1/sqrt(in)). Parameter names
  /// default to `<name>.weight` and `<name>.bias`.
  public init(
    _ store: ParameterStore, name: String, group: String, inFeatures: Int, outFeatures: Int,
    bias: Bool = true, weightInit: Initializer? = nil, biasInit: Initializer? = nil,
    weightName: String? = nil, biasName: String? = nil
  ) {
    self.name = name
    self.inFeatures = inFeatures
    self.outFeatures = outFeatures
    let bound = 1 / Float(inFeatures).squareRoot()
    weight = store.add(
      weightName ?? name + ".weight", shape: [outFeatures, inFeatures], group: group,
      initializer: weightInit ?? .uniform(bound: bound))
    self.bias =
      bias
      ? store.add(
        biasName ?? name + ".bias", shape: [outFeatures], group: group,
        initializer: biasInit ?? .uniform(bound: bound))
      : nil
  }

  public func outputShape(for s: [Int]) -> [Int] {
    precondition(s.last == inFeatures, "\(name): expected last dimension \(inFeatures), got \(s)")
    var o = s
    o[o.count - 1] = outFeatures
    return o
  }

  public func forwardFLOPs(for s: [Int]) -> Int {
    2 * Tensor.count(of: s) / inFeatures * inFeatures * outFeatures
  }

  public func forward(_ x: Tensor) -> Tensor {
    let y = out.tensor(outputShape(for: x.shape))
    input = x
    let rows = x.count / inFeatures
    parallelSgemm(
      transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, a: x.data, lda: inFeatures,
      b: weight.value.data, ldb: inFeatures, c: y.data, ldc: outFeatures)
    if let bias {
      let b = bias.value.data
      let o = outFeatures
      parallelChunks(rows) { range in
        for r in range {
          let row = y.data + r * o
          for j in 0..<o { row[j] += b[j] }
        }
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
    precondition(dy.shape == outputShape(for: x.shape), "\(name): gradient shape \(dy.shape)")
    let rows = x.count / inFeatures
    let o = outFeatures
    let i = inFeatures
    if weight.requiresGrad {
      parallelSgemm(
        transA: true, transB: false, m: o, n: i, k: rows, a: dy.data, lda: o, b: x.data, ldb: i,
        beta: 1, c: weight.grad.data, ldc: i)
    }
    if let bias, bias.requiresGrad {
      let gb = bias.grad.data
      parallelChunks(o) { range in
        for j in range {
          var s = 0.0
          for r in 0..<rows { s += Double(dy.data[r * o + j]) }
          gb[j] += Float(s)
        }
      }
    }
    guard wantInput else { return nil }
    let dx = inGrad.tensor(x.shape)
    parallelSgemm(
      transA: false, transB: false, m: rows, n: i, k: o, a: dy.data, lda: o, b: weight.value.data,
      ldb: i, c: dx.data, ldc: i)
    return dx
  }
}
