/// Why an explanation could not be made. Messages name the value that is wrong.
public enum ExplanationError: Error, Equatable, CustomStringConvertible {
  /// An option outside its range (name, value, what is allowed).
  case invalidOption(String, String, String)
  /// The superpixels were made for an image of another size.
  case sizeMismatch(image: (Int, Int), superpixels: (Int, Int))
  /// The classifier returned a batch of the wrong length, or rows of differing lengths.
  case classifierOutput(String)
  /// A requested class index is not one of the classifier's outputs.
  case classOutOfRange(Int, classes: Int)
  /// The surrogate's fit failed.
  case fit(WeightedRidge.FitError)

  public var description: String {
    switch self {
    case .invalidOption(let name, let value, let allowed):
      return "explanation option \(name) = \(value): \(allowed)"
    case .sizeMismatch(let i, let s):
      return "superpixels are \(s.0)x\(s.1) but the image is \(i.0)x\(i.1)"
    case .classifierOutput(let why):
      return "classifier output: \(why)"
    case .classOutOfRange(let k, let n):
      return "class index \(k) is not among the model's \(n) classes"
    case .fit(let e):
      return e.description
    }
  }

  public static func == (a: ExplanationError, b: ExplanationError) -> Bool {
    a.description == b.description
  }
}
