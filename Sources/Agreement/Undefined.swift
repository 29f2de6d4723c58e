/// Why a statistic has no value for the data given.
///
/// Agreement statistics are ratios, and real data hits their zero denominators: two raters
/// who both used one class have chance agreement 1, a session with one rater has no pairs,
/// two empty masks have no Dice. A hematology lead quotes these numbers, so the module never
/// turns such a case into NaN or a crash: it returns this value, naming the statistic and the
/// reason in words a reader of the report understands.
public struct Undefined: Error, Sendable, Equatable, Hashable, CustomStringConvertible {
  /// The statistic, in the spelling of the JSON keys (`cohen.kappa`, `fleiss.se`, ...).
  public let statistic: String
  /// A sentence saying why, e.g. "both raters used only one category, so p_e = 1".
  public let reason: String

  public init(_ statistic: String, _ reason: String) {
    self.statistic = statistic
    self.reason = reason
  }

  public var description: String { "\(statistic): \(reason)" }
}

/// A two-sided interval, e.g. a 95% confidence interval.
public struct Interval: Sendable, Equatable, Hashable {
  public let lower: Double
  public let upper: Double

  public init(_ lower: Double, _ upper: Double) {
    self.lower = lower
    self.upper = upper
  }
}

/// The 0.975 quantile of the standard normal distribution, for Wald 95% intervals.
public let normalQuantile975 = 1.959963984540054

extension Result where Failure == Undefined {
  /// The value, or nil when undefined.
  public var value: Success? {
    if case .success(let v) = self { return v }
    return nil
  }

  /// The reason, or nil when defined.
  public var undefined: Undefined? {
    if case .failure(let u) = self { return u }
    return nil
  }
}
