import Foundation

/// Per-class weights of the classification loss (`train --class-weights`, issue 17): each
/// labelled image's loss counts its class's weight, and the batch loss is the weighted mean.
///
/// Why: the costly errors are malignant images (Early-B) called Benign. `balanced` gives each
/// class the same total weight (n / (K · n_c) over the training labels, so Benign, the smallest
/// class, counts most); `Early=2` instead doubles the weight of the class the misses come from.
/// Which helps, if either does, is a validation question (docs/model-card.md).
public enum ClassWeights {
  public struct ParseError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { "--class-weights: " + message }
  }

  /// n / (K · n_c) for each class c of the schema, from the training labels (class indices).
  /// A class without a training image cannot be balanced and is refused by name.
  public static func balanced(trainingLabels: [Int], schema: ClassSchema) throws(ParseError) -> [Float] {
    let k = schema.classes.count
    var counts = [Int](repeating: 0, count: k)
    for y in trainingLabels where y >= 0 && y < k { counts[y] += 1 }
    let n = counts.reduce(0, +)
    if let empty = counts.firstIndex(of: 0) {
      throw ParseError(
        message: "balanced weights need a training image of every class; \(schema.classes[empty]) has none")
    }
    return counts.map { Float(Double(n) / (Double(k) * Double($0))) }
  }

  /// `balanced`, or comma-separated `CLASS=WEIGHT` pairs naming schema classes (unnamed ones
  /// weigh 1). Weights are finite and non-negative, and at least one class weighs more than 0.
  public static func parse(_ text: String, schema: ClassSchema, trainingLabels: [Int]) throws(ParseError)
    -> [Float]
  {
    let spec = text.trimmingCharacters(in: .whitespaces)
    if spec == "balanced" { return try balanced(trainingLabels: trainingLabels, schema: schema) }
    var weights = [Float](repeating: 1, count: schema.classes.count)
    var named: Set<Int> = []
    for part in spec.split(separator: ",", omittingEmptySubsequences: false) {
      let pair = part.split(separator: "=", omittingEmptySubsequences: false)
      guard pair.count == 2 else {
        throw ParseError(message: "\"\(part)\" is not CLASS=WEIGHT (or give balanced)")
      }
      let name = pair[0].trimmingCharacters(in: .whitespaces)
      guard let c = schema.classes.firstIndex(of: name) else {
        throw ParseError(
          message: "\"\(name)\" is not a class of \(schema.name) (\(schema.classes.joined(separator: ", ")))")
      }
      guard let w = Float(pair[1].trimmingCharacters(in: .whitespaces)), w.isFinite, w >= 0 else {
        throw ParseError(message: "the weight of \(name), \"\(pair[1])\", is not a non-negative number")
      }
      guard named.insert(c).inserted else { throw ParseError(message: "\(name) is given twice") }
      weights[c] = w
    }
    guard weights.contains(where: { $0 > 0 }) else {
      throw ParseError(message: "every class weighs 0: nothing would train")
    }
    return weights
  }
}
