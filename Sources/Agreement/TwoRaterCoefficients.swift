/// Two-rater coefficients besides Cohen's kappa, all functions of the confusion matrix.

/// Scott's pi (1955): chance agreement from the raters' pooled marginals,
/// p_e = Σ_k ((p_k+ + p_+k) / 2)².
public func scottPi(_ table: ConfusionMatrix) -> Result<Double, Undefined> {
  let n = table.n
  guard n > 0 else { return .failure(Undefined("scott_pi", "no items were labelled by both raters")) }
  let t = Double(n)
  let rows = table.rowTotals
  let cols = table.columnTotals
  var pe = 0.0
  for c in 0..<table.k {
    let pi = Double(rows[c] + cols[c]) / (2 * t)
    pe += pi * pi
  }
  guard 1 - pe > 1e-12 else {
    return .failure(
      Undefined("scott_pi", "both raters used only one category (the same one), so chance agreement is 1"))
  }
  let po = Double(table.agreements) / t
  return .success((po - pe) / (1 - pe))
}

/// Prevalence- and bias-adjusted kappa (Byrt, Bishop & Carlin 1993), for k categories the
/// Brennan-Prediger coefficient: (k p_o - 1) / (k - 1), with k the number of categories in
/// the scale (not only those used).
public func pabak(_ table: ConfusionMatrix) -> Result<Double, Undefined> {
  let n = table.n
  guard n > 0 else { return .failure(Undefined("pabak", "no items were labelled by both raters")) }
  guard table.k >= 2 else { return .failure(Undefined("pabak", "the scale has a single category")) }
  let po = Double(table.agreements) / Double(n)
  let q = Double(table.k)
  return .success((q * po - 1) / (q - 1))
}

/// Specific agreement for each category (Fleiss 1975; Cicchetti & Feinstein 1990's positive
/// and negative agreement in the binary case): p_s(k) = 2 n_kk / (n_k+ + n_+k), the
/// chance that when one rater says k the other does too.
/// - Parameter categories: names for the reasons (defaults to "category i").
public func specificAgreement(_ table: ConfusionMatrix, categories: [String]? = nil)
  -> [Result<Double, Undefined>]
{
  let rows = table.rowTotals
  let cols = table.columnTotals
  return (0..<table.k).map { c in
    let name = categories?[c] ?? "category \(c + 1)"
    let d = rows[c] + cols[c]
    guard d > 0 else {
      return .failure(Undefined("specific_agreement.\(name)", "neither rater used \(name)"))
    }
    return .success(2 * Double(table[c, c]) / Double(d))
  }
}

/// Gwet's AC1 for two raters over the items both rated: the multi-rater formula (Gwet 2008,
/// 2014) on the confusion matrix's items, with q = the number of categories of the scale.
public func gwetAC1(_ table: ConfusionMatrix) -> Result<AC1Estimate, Undefined> {
  guard table.n > 0 else {
    return .failure(Undefined("gwet_ac1", "no items were labelled by both raters"))
  }
  return gwetAC1(CategoryCounts(table))
}
