import Foundation

/// Cohen's kappa, plain or weighted, with its asymptotic standard errors.
public struct KappaEstimate: Sendable, Equatable {
  /// Items both raters labelled.
  public let n: Int
  /// Observed (weighted) agreement, Σ w_ij p_ij.
  public let po: Double
  /// Chance (weighted) agreement, Σ w_ij p_i+ p_+j.
  public let pe: Double
  public let kappa: Double
  /// Large-sample standard error (Fleiss, Cohen & Everitt 1969), for the CI.
  public let se: Double
  /// kappa ± 1.96 se (a Wald interval; not clipped to [-1, 1], as in SAS and statsmodels).
  public let ci95: Interval
  /// Standard error under the null hypothesis kappa = 0; nil with `nullUndefined` when 0.
  public let se0: Double?
  /// kappa / se0.
  public let z: Double?
  /// Parts without a value (se0 and z when the null variance is 0), with the reason.
  public let undefinedParts: [Undefined]
}

/// Cohen's kappa of a confusion matrix, weighted by `weights` (identity = plain kappa).
///
/// p_o = Σ w_ij p_ij, p_e = Σ w_ij p_i+ p_+j, kappa = (p_o - p_e) / (1 - p_e): the standard
/// definition (not the binary p_e = (TP·TN + FP·FN)/T² of the MTA-CNN paper, which is wrong).
/// Variances, with w̄_i. = Σ_j p_+j w_ij and w̄_.j = Σ_i p_i+ w_ij (FCE 1969):
///   var  = [Σ p_ij (w_ij - (w̄_i. + w̄_.j)(1 - κ))² - (κ - p_e(1 - κ))²] / (N (1 - p_e)²)
///   var0 = [Σ p_i+ p_+j (w_ij - (w̄_i. + w̄_.j))² - p_e²] / (N (1 - p_e)²)
/// With identity weights these are the unweighted formulas of the same paper.
///
/// - Parameter statistic: the JSON name used in undefined reasons (`cohen` or `weighted`).
public func cohenKappa(
  _ table: ConfusionMatrix, weights: AgreementWeights? = nil, statistic: String = "cohen"
) -> Result<KappaEstimate, Undefined> {
  let k = table.k
  let w = weights ?? .identity(k)
  precondition(w.k == k, "weight matrix and confusion matrix differ in size")
  let n = table.n
  guard n > 0 else {
    return .failure(Undefined("\(statistic).kappa", "no items were labelled by both raters"))
  }
  let total = Double(n)
  let p = table.counts.map { Double($0) / total }
  let rows = table.rowTotals.map { Double($0) / total }
  let cols = table.columnTotals.map { Double($0) / total }
  var po = 0.0
  var pe = 0.0
  for i in 0..<k {
    for j in 0..<k {
      po += w[i, j] * p[i * k + j]
      pe += w[i, j] * rows[i] * cols[j]
    }
  }
  guard 1 - pe > 1e-12 else {
    return .failure(Undefined("\(statistic).kappa", chanceIsOneReason(table, weighted: weights != nil)))
  }
  let kappa = (po - pe) / (1 - pe)
  // Weighted mean weights of each row category against the column rater's marginals, and
  // of each column category against the row rater's.
  let wRow = (0..<k).map { i in (0..<k).reduce(0.0) { $0 + cols[$1] * w[i, $1] } }
  let wCol = (0..<k).map { j in (0..<k).reduce(0.0) { $0 + rows[$1] * w[$1, j] } }
  var a = 0.0
  var a0 = 0.0
  for i in 0..<k {
    for j in 0..<k {
      let d = w[i, j] - (wRow[i] + wCol[j]) * (1 - kappa)
      a += p[i * k + j] * d * d
      let d0 = w[i, j] - (wRow[i] + wCol[j])
      a0 += rows[i] * cols[j] * d0 * d0
    }
  }
  let scale = total * (1 - pe) * (1 - pe)
  let c = kappa - pe * (1 - kappa)
  // Each variance is a difference of O(1) terms; where the true value is 0 (kappa = 1, or a
  // rater who used one category) rounding leaves noise of either sign, which would become a
  // spurious se of 1e-9 or a NaN. Differences within 1e-12 of the terms count as 0.
  let numerator = cancelled(a, c * c)
  let numerator0 = cancelled(a0, pe * pe)
  let se = (numerator / scale).squareRoot()
  let se0 = (numerator0 / scale).squareRoot()
  let ci = Interval(kappa - normalQuantile975 * se, kappa + normalQuantile975 * se)
  if numerator0 > 0 {
    return .success(
      KappaEstimate(
        n: n, po: po, pe: pe, kappa: kappa, se: se, ci95: ci, se0: se0, z: kappa / se0,
        undefinedParts: []))
  }
  let reason = Undefined(
    "\(statistic).z",
    "the standard error under the null hypothesis is 0 (as when one rater used a single category), so z is undefined"
  )
  return .success(
    KappaEstimate(
      n: n, po: po, pe: pe, kappa: kappa, se: se, ci95: ci, se0: nil, z: nil, undefinedParts: [reason]))
}

/// x - y, or 0 when the difference is within rounding of the terms (or negative).
func cancelled(_ x: Double, _ y: Double) -> Double {
  let d = x - y
  return d > 1e-12 * (abs(x) + abs(y)) ? d : 0
}

/// Kappa alone from raw counts: the bootstrap's inner function (no allocation).
@inlinable
func kappaValue(
  counts: UnsafeBufferPointer<Int>, k: Int, weights: UnsafeBufferPointer<Double>,
  rows: UnsafeMutableBufferPointer<Double>, cols: UnsafeMutableBufferPointer<Double>
) -> Double? {
  var n = 0
  for i in 0..<k {
    rows[i] = 0
    cols[i] = 0
  }
  for i in 0..<k {
    for j in 0..<k {
      let c = counts[i * k + j]
      n += c
      rows[i] += Double(c)
      cols[j] += Double(c)
    }
  }
  guard n > 0 else { return nil }
  let t = Double(n)
  var po = 0.0
  var pe = 0.0
  for i in 0..<k {
    for j in 0..<k {
      let w = weights[i * k + j]
      po += w * Double(counts[i * k + j])
      pe += w * rows[i] * cols[j]
    }
  }
  po /= t
  pe /= t * t
  guard 1 - pe > 1e-12 else { return nil }
  return (po - pe) / (1 - pe)
}

/// Why p_e = 1, in words: for plain kappa it means both raters used one and the same category.
func chanceIsOneReason(_ table: ConfusionMatrix, weighted: Bool) -> String {
  let used = table.rowTotals.enumerated().filter { $0.element > 0 }.map(\.offset)
  if !weighted, used.count == 1 {
    return "both raters used only one category (the same one), so chance agreement p_e = 1"
  }
  return "chance agreement p_e = 1 under these weights, so kappa is 0/0"
}
