/// Cohen's kappa between every pair of raters, and Light's (1971) mean of them.

/// One cell of the pairwise Cohen matrix: the pair's confusion matrix and its kappa with the
/// asymptotic standard error and 95% CI (the review dashboard shows a CI for every pair, also
/// when a session has three or more raters), and the weighted kappa when weights were asked for.
public struct PairwiseKappa: Sendable, Equatable {
  /// Rater indices into the table's raters, a < b.
  public let a: Int
  public let b: Int
  /// Items both rated.
  public let n: Int
  /// Rows rater a, columns rater b, over the items both rated.
  public let confusion: ConfusionMatrix
  /// Plain Cohen's kappa with its SE and CI (the same function as the two-rater report's).
  public let cohen: Result<KappaEstimate, Undefined>
  /// The weighted kappa under the report's weights; nil when no weights were asked for.
  public let weighted: Result<KappaEstimate, Undefined>?

  /// The kappa alone.
  public var kappa: Result<Double, Undefined> { cohen.map(\.kappa) }
}

/// Plain Cohen's kappa (and, with `weights`, the weighted kappa) for each pair of raters over
/// the items both rated.
public func pairwiseKappa(_ table: RatingTable, weights: AgreementWeights? = nil) -> [PairwiseKappa] {
  let m = table.raters.count
  var out: [PairwiseKappa] = []
  for a in 0..<m {
    for b in (a + 1)..<max(a + 1, m) {
      let c = table.confusion(a, b)
      let name = "pairwise.\(table.raters[a])-\(table.raters[b])"
      out.append(
        PairwiseKappa(
          a: a, b: b, n: c.n, confusion: c, cohen: cohenKappa(c, statistic: name),
          weighted: weights.map { cohenKappa(c, weights: $0, statistic: name + ".weighted") }))
    }
  }
  return out
}

/// Light's kappa: the mean of the pairwise Cohen kappas. Undefined when there is no pair or
/// any pair's kappa is undefined (a mean over the defined pairs would hide a rater).
public func lightsKappa(_ pairs: [PairwiseKappa], raters: [String]) -> Result<Double, Undefined> {
  guard !pairs.isEmpty else {
    return .failure(Undefined("lights_kappa", "needs at least two raters"))
  }
  var sum = 0.0
  for p in pairs {
    switch p.kappa {
    case .success(let k): sum += k
    case .failure:
      return .failure(
        Undefined(
          "lights_kappa",
          "kappa between \(raters[p.a]) and \(raters[p.b]) is undefined, so their mean is too"))
    }
  }
  return .success(sum / Double(pairs.count))
}
