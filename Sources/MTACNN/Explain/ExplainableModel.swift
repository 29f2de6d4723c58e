/// What explanations and the shortcut audit need from a classifier. `MTACNNModel` is the real
/// one; tests use hand-built models whose answers are known.
public protocol ExplainableModel: AnyObject {
  /// Class names in output order.
  var classNames: [String] { get }
  /// The model's own preprocessing (input size, corner blanking, stain normalisation).
  var preprocessing: Preprocessing { get }
  /// Class probabilities, one row per input (inputs are S × S, preprocessed).
  func probabilities(_ batch: [PlanarImage]) throws -> [[Float]]
  /// Grad-CAM for each input, for the given class (nil: the predicted one).
  func gradCAM(_ batch: [PlanarImage], classIndices: [Int?]) throws -> [GradCAMExplanation]
}

extension ExplainableModel {
  /// `probabilities` in batches of at most `batchSize` (bounded memory for long lists).
  public func probabilities(_ inputs: [PlanarImage], batchSize: Int) throws -> [[Float]] {
    var out: [[Float]] = []
    out.reserveCapacity(inputs.count)
    var i = 0
    while i < inputs.count {
      let j = min(i + max(batchSize, 1), inputs.count)
      out += try probabilities(Array(inputs[i..<j]))
      i = j
    }
    return out
  }
}

/// The index of the largest value (the first of equal ones).
func argmax(_ v: [Float]) -> Int {
  var best = 0
  for i in v.indices where v[i] > v[best] { best = i }
  return best
}
