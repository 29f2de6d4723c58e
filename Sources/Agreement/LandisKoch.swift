/// The Landis & Koch (1977) verbal scale for kappa-type coefficients, the one clinicians
/// quote ("substantial agreement"). The paper gives ranges to two decimals (0.00-0.20,
/// 0.21-0.40, ...); on a continuous value each band here includes its upper bound:
/// below 0 poor, [0, 0.20] slight, (0.20, 0.40] fair, (0.40, 0.60] moderate,
/// (0.60, 0.80] substantial, (0.80, 1] almost perfect.
public enum LandisKoch: String, Sendable, CaseIterable {
  case poor
  case slight
  case fair
  case moderate
  case substantial
  case almostPerfect = "almost perfect"

  /// The scale's name, to print beside a band.
  public static let scaleName = "Landis & Koch (1977) scale"

  public init(_ value: Double) {
    switch value {
    case ..<0: self = .poor
    case ...0.20: self = .slight
    case ...0.40: self = .fair
    case ...0.60: self = .moderate
    case ...0.80: self = .substantial
    default: self = .almostPerfect
    }
  }

  /// The band's range in words, e.g. "0.61-0.80".
  public var range: String {
    switch self {
    case .poor: return "< 0"
    case .slight: return "0.00-0.20"
    case .fair: return "0.21-0.40"
    case .moderate: return "0.41-0.60"
    case .substantial: return "0.61-0.80"
    case .almostPerfect: return "0.81-1.00"
    }
  }

  /// "substantial agreement", "poor agreement", ...
  public var phrase: String { "\(rawValue) agreement" }
}
