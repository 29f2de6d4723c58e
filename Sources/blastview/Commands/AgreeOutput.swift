import Agreement
import Foundation
import Terminal

/// Number formats of `agree` and `agree-masks`.
enum AgreeOutput {
  /// A coefficient to three decimals ("0.712", "-0.050").
  static func fixed(_ x: Double, _ digits: Int = 3) -> String {
    String(format: "%.\(digits)f", x)
  }
}

extension JSONOutput {
  /// A confidence interval as `[lower, upper]`, or null.
  static func interval(_ i: Interval?) -> JSONOutput {
    guard let i else { return .null }
    return .array([.number(i.lower), .number(i.upper)])
  }
}
