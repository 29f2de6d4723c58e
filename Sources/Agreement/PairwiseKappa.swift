/// Cohen's kappa between every pair of raters, and Light's (1971) mean of them.

/// One cell of the pairwise Cohen matrix.
public struct PairwiseKappa: Sendable, Equatable {
  /// Rater indices into the table's raters, a < b.
  public let a: Int
  public let b: Int
  /// Items both rated.
  public let n: Int
  public let kappa: Result<Double, Undefined>
}

/// Plain Cohen's kappa for each pair of raters over the items both rated.
public func pairwiseKappa(_ table: RatingTable) -> [PairwiseKappa] {
  let m = table.raters.count
  var out: [PairwiseKappa] = []
  for a in 0..<m {
    for b in (a + 1)..<max(a + 1, m) {
      let c = table.confusion(a, b)
      let name = "pairwise.\(table.raters[a])-\(table.raters[b])"
      let k = cohenKappa(c, statistic: name).map(\.kappa)
      out.append(PairwiseKappa(a: a, b: b, n: c.n, kappa: k))
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
