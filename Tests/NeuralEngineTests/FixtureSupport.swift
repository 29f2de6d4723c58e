import Foundation
import Testing

@testable import NeuralEngine

/// A PyTorch fixture file (made by tools/fixtures/make_engine_fixtures.py).
func fixture(_ name: String) throws -> SafeTensorsFile {
  guard let dir = Bundle.module.resourcePath else { throw FixtureMissing(name: name) }
  return try SafeTensorsFile.read(path: dir + "/Fixtures/" + name + ".safetensors")
}

struct FixtureMissing: Error { let name: String }

extension SafeTensorsFile {
  /// The named tensor's values (the test fails through the thrown error when absent).
  func values(_ name: String) throws -> [Float] { try floats(name) }

  /// Copies the named fixture tensor into a parameter (shapes must agree).
  func load(_ name: String, into p: Parameter) throws {
    let t = try tensor(name)
    #expect(t.shape == p.shape, "\(name): fixture \(t.shape) vs parameter \(p.shape)")
    p.value.copy(from: t)
  }
}

/// Worst elementwise |a − b| / (|b| + rms(b)): a relative error whose floor is the tensor's own
/// scale, so elements that happen to be near zero are judged against their neighbours.
func scaledError(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
  if b.isEmpty { return 0 }
  let rms = (b.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(b.count)).squareRoot()
  var worst: Double = 0
  for i in 0..<a.count {
    let d = abs(Double(a[i]) - Double(b[i])) / (abs(Double(b[i])) + rms + 1e-30)
    worst = max(worst, d)
  }
  return Float(worst)
}

/// Expects `a` to match the reference `b` to `tolerance` under `scaledError`.
func expectClose(
  _ a: [Float], _ b: [Float], _ tolerance: Float = 1e-4, _ label: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(a.count == b.count, "\(label): \(a.count) vs \(b.count) values", sourceLocation: sourceLocation)
  guard a.count == b.count else { return }
  let e = scaledError(a, b)
  #expect(e <= tolerance, "\(label): error \(e) > \(tolerance)", sourceLocation: sourceLocation)
}
