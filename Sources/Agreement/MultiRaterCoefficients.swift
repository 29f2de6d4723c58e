/// Coefficients for any number of raters, from per-item category counts.

/// Fleiss' kappa with its standard errors.
public struct FleissEstimate: Sendable, Equatable {
  /// Items (each rated by every rater).
  public let n: Int
  /// Ratings per item.
  public let raters: Int
  /// Mean pairwise agreement P̄.
  public let po: Double
  /// Σ p_j², the chance agreement.
  public let pe: Double
  public let kappa: Double
  /// Large-sample standard error (Gwet 2014, eq. as in irrCAC), for the CI; nil below 2 items.
  public let se: Double?
  /// kappa ± 1.96 se.
  public let ci95: Interval?
  /// Standard error under kappa = 0 (Fleiss, Nee & Landis 1979), the one behind z.
  public let se0: Double?
  public let z: Double?
  public let undefinedParts: [Undefined]
}

/// Fleiss' (1971) kappa, for items that all have the same number m ≥ 2 of ratings (complete
/// data): P_i = Σ_j n_ij (n_ij - 1) / (m (m - 1)), p_j = Σ_i n_ij / (n m),
/// kappa = (P̄ - Σ p_j²) / (1 - Σ p_j²).
///
/// se: Gwet's linearisation, var = Σ_i (κ_i* - κ)² / (n (n - 1)) with
/// κ_i = (P_i - p_e)/(1 - p_e), κ_i* = κ_i - 2 (1 - κ)(p_e,i - p_e)/(1 - p_e),
/// p_e,i = Σ_j n_ij p_j / m. se0 (Fleiss, Nee & Landis 1979):
/// var0 = 2 [(Σ p_j q_j)² - Σ p_j q_j (q_j - p_j)] / (n m (m - 1) (Σ p_j q_j)²).
public func fleissKappa(_ data: CategoryCounts) -> Result<FleissEstimate, Undefined> {
  let q = data.q
  let n = data.n
  guard n > 0 else { return .failure(Undefined("fleiss.kappa", "no item was rated by every rater")) }
  let ratings = (0..<data.patterns).filter { data.multiplicity[$0] > 0 }.map { data.ratings($0) }
  guard let m = ratings.first, ratings.allSatisfy({ $0 == m }) else {
    return .failure(
      Undefined("fleiss.kappa", "Fleiss' kappa needs the same number of ratings for every item"))
  }
  guard m >= 2 else {
    return .failure(Undefined("fleiss.kappa", "each item has a single rating; agreement needs two raters"))
  }
  let total = Double(n)
  var p = [Double](repeating: 0, count: q)
  var pbar = 0.0
  for i in 0..<data.patterns {
    let w = Double(data.multiplicity[i])
    for c in 0..<q { p[c] += w * Double(data.counts[i * q + c]) }
    pbar += w * (data.pairAgreement(i) ?? 0)
  }
  p = p.map { $0 / (total * Double(m)) }
  pbar /= total
  let pe = p.reduce(0) { $0 + $1 * $1 }
  guard 1 - pe > 1e-12 else {
    return .failure(
      Undefined("fleiss.kappa", "every rating is the same category, so chance agreement is 1"))
  }
  let kappa = (pbar - pe) / (1 - pe)
  var parts: [Undefined] = []
  var se: Double? = nil
  if n >= 2 {
    var s = 0.0
    for i in 0..<data.patterns {
      let ki = ((data.pairAgreement(i) ?? 0) - pe) / (1 - pe)
      var pei = 0.0
      for c in 0..<q { pei += Double(data.counts[i * q + c]) * p[c] }
      pei /= Double(m)
      let d = ki - 2 * (1 - kappa) * (pei - pe) / (1 - pe) - kappa
      s += Double(data.multiplicity[i]) * d * d
    }
    se = (s / (total * (total - 1))).squareRoot()
  } else {
    parts.append(Undefined("fleiss.se", "a standard error needs at least two items"))
  }
  let spq = p.reduce(0) { $0 + $1 * (1 - $1) }
  let spqd = p.reduce(0) { $0 + $1 * (1 - $1) * ((1 - $1) - $1) }
  let var0 = 2 * (spq * spq - spqd) / (total * Double(m * (m - 1)) * spq * spq)
  var se0: Double? = nil
  var z: Double? = nil
  if var0 > 0 {
    se0 = var0.squareRoot()
    z = kappa / var0.squareRoot()
  } else {
    parts.append(Undefined("fleiss.z", "the standard error under the null hypothesis is 0"))
  }
  let ci = se.map { Interval(kappa - normalQuantile975 * $0, kappa + normalQuantile975 * $0) }
  return .success(
    FleissEstimate(
      n: n, raters: m, po: pbar, pe: pe, kappa: kappa, se: se, ci95: ci, se0: se0, z: z,
      undefinedParts: parts))
}

/// Gwet's AC1 with its standard error.
public struct AC1Estimate: Sendable, Equatable {
  /// Items with at least one rating.
  public let n: Int
  /// Percent agreement over items with two or more ratings.
  public let pa: Double
  /// Chance agreement Σ π_k (1 - π_k) / (q - 1).
  public let pe: Double
  public let ac1: Double
  /// Large-sample standard error (Gwet 2008), nil below 2 items.
  public let se: Double?
  /// ac1 ± 1.96 se.
  public let ci95: Interval?
  public let undefinedParts: [Undefined]
}

/// Gwet's AC1 (2008) for any number of raters, missing ratings allowed, as Gwet (2014) and
/// irrCAC define it: π_k over all items with a rating, p_a over items with two or more,
/// p_e = Σ_k π_k (1 - π_k) / (q - 1) with q the number of categories of the scale. Unlike
/// kappa it stays stable when one class dominates (the prevalence paradox).
public func gwetAC1(_ data: CategoryCounts) -> Result<AC1Estimate, Undefined> {
  let q = data.q
  guard q >= 2 else { return .failure(Undefined("gwet_ac1", "the scale has a single category")) }
  let n = data.n
  var n2 = 0
  var paSum = 0.0
  for i in 0..<data.patterns {
    if let a = data.pairAgreement(i) {
      n2 += data.multiplicity[i]
      paSum += Double(data.multiplicity[i]) * a
    }
  }
  guard n2 > 0 else { return .failure(Undefined("gwet_ac1", "no item has two or more ratings")) }
  let pi = data.categoryShares()
  let pa = paSum / Double(n2)
  let pe = pi.reduce(0) { $0 + $1 * (1 - $1) } / Double(q - 1)
  let ac1 = (pa - pe) / (1 - pe)
  var parts: [Undefined] = []
  var se: Double? = nil
  if n >= 2 {
    let total = Double(n)
    var s = 0.0
    for i in 0..<data.patterns {
      let r = data.ratings(i)
      guard r > 0 else { continue }
      let a = data.pairAgreement(i)
      let ai = (total / Double(n2)) * ((a ?? 0) - (a == nil ? 0 : pe)) / (1 - pe)
      var pei = 0.0
      for c in 0..<q { pei += Double(data.counts[i * q + c]) * (1 - pi[c]) }
      pei /= Double(q - 1) * Double(r)
      let d = ai - 2 * (1 - ac1) * (pei - pe) / (1 - pe) - ac1
      s += Double(data.multiplicity[i]) * d * d
    }
    se = (s / (total * (total - 1))).squareRoot()
  } else {
    parts.append(Undefined("gwet_ac1.se", "a standard error needs at least two items"))
  }
  let ci = se.map { Interval(ac1 - normalQuantile975 * $0, ac1 + normalQuantile975 * $0) }
  return .success(AC1Estimate(n: n, pa: pa, pe: pe, ac1: ac1, se: se, ci95: ci, undefinedParts: parts))
}

/// The difference function of Krippendorff's alpha.
public enum KrippendorffMetric: String, Sendable, CaseIterable {
  /// δ² = 0 for equal categories, 1 otherwise.
  case nominal
  /// δ²_ck = (Σ_{g=c..k} n_g - (n_c + n_k)/2)², ranks in the category order given.
  case ordinal
}

/// Krippendorff's alpha (2011, "Computing Krippendorff's alpha-reliability"), missing
/// ratings allowed: items with fewer than two ratings are not pairable and drop out.
/// Coincidences o_ck = Σ_u n_uc (n_uk - [c = k]) / (m_u - 1), n_c = Σ_k o_ck, n = Σ n_c;
/// alpha = 1 - (n - 1) Σ o_ck δ²_ck / Σ n_c n_k δ²_ck.
public func krippendorffAlpha(_ data: CategoryCounts, metric: KrippendorffMetric) -> Result<
  Double, Undefined
> {
  let q = data.q
  let key = "krippendorff_alpha.\(metric.rawValue)"
  var o = [Double](repeating: 0, count: q * q)
  var pairable = false
  for i in 0..<data.patterns {
    let m = data.ratings(i)
    guard m >= 2, data.multiplicity[i] > 0 else { continue }
    pairable = true
    let w = Double(data.multiplicity[i]) / Double(m - 1)
    for c in 0..<q {
      let nc = Int(data.counts[i * q + c])
      if nc == 0 { continue }
      for k in 0..<q {
        let nk = Int(data.counts[i * q + k]) - (c == k ? 1 : 0)
        if nk > 0 { o[c * q + k] += w * Double(nc * nk) }
      }
    }
  }
  guard pairable else { return .failure(Undefined(key, "no item has two or more ratings")) }
  let nc = (0..<q).map { c in (0..<q).reduce(0.0) { $0 + o[c * q + $1] } }
  let total = nc.reduce(0, +)
  // Cumulative marginals for the ordinal metric: between(c, k) = Σ_{g=c..k} n_g.
  var cumulative = [Double](repeating: 0, count: q + 1)
  for c in 0..<q { cumulative[c + 1] = cumulative[c] + nc[c] }
  func delta2(_ c: Int, _ k: Int) -> Double {
    if c == k { return 0 }
    switch metric {
    case .nominal: return 1
    case .ordinal:
      let lo = min(c, k)
      let hi = max(c, k)
      let d = cumulative[hi + 1] - cumulative[lo] - (nc[c] + nc[k]) / 2
      return d * d
    }
  }
  var observed = 0.0
  var expected = 0.0
  for c in 0..<q {
    for k in 0..<q where c != k {
      let d = delta2(c, k)
      observed += o[c * q + k] * d
      expected += nc[c] * nc[k] * d
    }
  }
  guard expected > 0 else {
    return .failure(
      Undefined(key, "all pairable ratings are one category, so the expected disagreement is 0"))
  }
  return .success(1 - (total - 1) * observed / expected)
}
