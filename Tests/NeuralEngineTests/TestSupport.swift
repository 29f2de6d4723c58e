import Foundation
import Testing

@testable import NeuralEngine

/// A tensor of seeded uniform values in [-scale, scale].
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
  var rng = SeededGenerator(seed: seed)
  let t = Tensor(shape: shape)
  for i in 0..<t.count { t[i] = (rng.nextUnitFloat() * 2 - 1) * scale }
  return t
}

/// Σ r·y in Double: the scalar whose gradient with respect to y is r.
func projection(_ y: Tensor, _ r: Tensor) -> Double {
  var s = 0.0
  for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
  return s
}

/// Relative error of two gradient vectors: ‖a − b‖ / max(‖a‖, ‖b‖, floor).
func relativeError(_ a: [Double], _ b: [Double], floor: Double = 1e-6) -> Double {
  var d = 0.0
  var na = 0.0
  var nb = 0.0
  for i in 0..<a.count {
    d += (a[i] - b[i]) * (a[i] - b[i])
    na += a[i] * a[i]
    nb += b[i] * b[i]
  }
  return d.squareRoot() / max(na.squareRoot(), nb.squareRoot(), floor)
}

/// Indices to probe: all of them for small tensors, a seeded sample otherwise.
func probeIndices(_ count: Int, max limit: Int = 40, seed: UInt64 = 7) -> [Int] {
  if count <= limit { return Array(0..<count) }
  var rng = SeededGenerator(seed: seed)
  return (0..<limit).map { _ in Int(rng.next() % UInt64(count)) }
}

/// Central-difference gradient of `loss` with respect to the probed elements of `t`.
func numericGradient(of t: Tensor, at idx: [Int], eps: Float, _ loss: () -> Double) -> [Double] {
  idx.map { i in
    let old = t[i]
    t[i] = old + eps
    let lp = loss()
    t[i] = old - eps
    let lm = loss()
    t[i] = old
    // The perturbation actually applied, after rounding to Float.
    let h = Double(old + eps) - Double(old - eps)
    return (lp - lm) / h
  }
}

/// Checks a single-input layer's backward against central differences, for the input and for
/// every parameter given. The loss is a fixed random projection of the output.
func checkLayerGradients(
  _ layer: Layer, input x: Tensor, parameters: [Parameter], store: ParameterStore,
  eps: Float = 1e-2, tolerance: Double = 2e-3, sourceLocation: SourceLocation = #_sourceLocation
) {
  let y0 = layer.forward(x)
  let r = randomTensor(y0.shape, seed: 99)
  store.zeroGradients()
  let dx = layer.backward(r)
  let dxCopy = dx.array
  let loss = { projection(layer.forward(x), r) }
  let ix = probeIndices(x.count)
  let num = numericGradient(of: x, at: ix, eps: eps, loss)
  let ana = ix.map { Double(dxCopy[$0]) }
  let e = relativeError(num, ana)
  #expect(e < tolerance, "input gradient relative error \(e)", sourceLocation: sourceLocation)
  for p in parameters {
    let g = p.grad.array
    let ip = probeIndices(p.count)
    let num = numericGradient(of: p.value, at: ip, eps: eps, loss)
    let ana = ip.map { Double(g[$0]) }
    let e = relativeError(num, ana)
    #expect(e < tolerance, "\(p.name) gradient relative error \(e)", sourceLocation: sourceLocation)
  }
}

/// Largest |a − b| / max(|b|, floor) over all elements.
func maxRelativeDifference(_ a: [Float], _ b: [Float], floor: Float = 1e-3) -> Float {
  precondition(a.count == b.count, "\(a.count) vs \(b.count)")
  var m: Float = 0
  for i in 0..<a.count { m = max(m, abs(a[i] - b[i]) / max(abs(b[i]), floor)) }
  return m
}
