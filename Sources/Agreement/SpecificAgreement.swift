/// Per-category agreement among any number of raters.

/// Specific agreement of each category among many raters, missing ratings allowed
/// (Uebersax 1982; Fleiss 1971's "proportion of agreement for category j"):
///
///   p_s(k) = Σ_i n_ik (n_ik - 1) / Σ_i n_ik (n_i - 1)
///
/// over the items i, with n_ik the raters who put item i in category k and n_i its ratings.
/// It is the share of the rater pairs involving a rating of k, over all items, that both
/// said k. Items with a single rating add nothing to either sum. With two raters it reduces to
/// 2 n_kk / (n_k+ + n_+k), the two-rater `specificAgreement`, which is how the review
/// dashboard's per-class line reads the same for two raters or ten.
public func specificAgreement(_ counts: CategoryCounts, categories: [String]? = nil)
  -> [Result<Double, Undefined>]
{
  let q = counts.q
  var agree = [Int](repeating: 0, count: q)
  var pairs = [Int](repeating: 0, count: q)
  for p in 0..<counts.patterns {
    let r = counts.ratings(p)
    guard r >= 2 else { continue }
    let w = counts.multiplicity[p]
    for c in 0..<q {
      let x = Int(counts.counts[p * q + c])
      agree[c] += w * x * (x - 1)
      pairs[c] += w * x * (r - 1)
    }
  }
  return (0..<q).map { c in
    let name = categories?[c] ?? "category \(c + 1)"
    guard pairs[c] > 0 else {
      return .failure(
        Undefined(
          "specific_agreement.\(name)", "no item with two or more ratings has a rating of \(name)"))
    }
    return .success(Double(agree[c]) / Double(pairs[c]))
  }
}
