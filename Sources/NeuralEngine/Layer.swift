/// A layer with one input and one output: a forward function and a backward function over
/// buffers the layer owns and reuses (llm.c style; there is no autograd graph).
///
/// The contract, for every layer:
/// - `forward(x)` returns a view of the layer's output buffer. The layer keeps a reference to `x`
///   for backward: the caller must leave `x` unchanged until `backward` has run.
/// - `backward(dy)` takes the gradient of the loss with respect to the last output, *adds* the
///   gradients of the layer's parameters that require one into the gradient arena, and returns
///   the gradient with respect to the last input (a view of the layer's own buffer).
/// - `backwardParameters(dy)` does the same without computing the input gradient, for the
///   first layer of a network or the edge of a frozen part.
/// - Buffers grow on the first call at a given batch size and are reused afterwards.
public protocol Layer: AnyObject {
  func forward(_ x: Tensor) -> Tensor
  func backward(_ dy: Tensor) -> Tensor
  func backwardParameters(_ dy: Tensor)
  /// Output shape for an input shape.
  func outputShape(for input: [Int]) -> [Int]
  /// Floating-point operations of one forward pass over `input` (multiply-add = 2).
  func forwardFLOPs(for input: [Int]) -> Int
}

extension Layer {
  /// Layers without parameters have nothing to do when no input gradient is wanted.
  public func backwardParameters(_ dy: Tensor) {}
  public func forwardFLOPs(for input: [Int]) -> Int { 0 }
}

/// Layers whose behaviour differs between training and inference (batch norm, dropout).
public protocol ModeSwitching: AnyObject {
  var isTraining: Bool { get set }
}

/// A chain of single-input layers run in order; backward runs them in reverse.
public final class Sequential: Layer, ModeSwitching {
  public let layers: [Layer]

  public init(_ layers: [Layer]) {
    self.layers = layers
  }

  public var isTraining: Bool {
    get { layers.compactMap { $0 as? ModeSwitching }.first?.isTraining ?? false }
    set { for l in layers { (l as? ModeSwitching)?.isTraining = newValue } }
  }

  public func forward(_ x: Tensor) -> Tensor {
    var y = x
    for l in layers { y = l.forward(y) }
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    var g = dy
    for l in layers.reversed() { g = l.backward(g) }
    return g
  }

  public func backwardParameters(_ dy: Tensor) {
    var g = dy
    for (i, l) in layers.enumerated().reversed() {
      if i == 0 {
        l.backwardParameters(g)
      } else {
        g = l.backward(g)
      }
    }
  }

  public func outputShape(for input: [Int]) -> [Int] {
    layers.reduce(input) { $1.outputShape(for: $0) }
  }

  public func forwardFLOPs(for input: [Int]) -> Int {
    var s = input
    var f = 0
    for l in layers {
      f += l.forwardFLOPs(for: s)
      s = l.outputShape(for: s)
    }
    return f
  }
}
