/// Weighted ridge regression with an unpenalised intercept: LIME's local surrogate model.
///
/// Minimises Σᵢ wᵢ (yᵢ − b − xᵢ·β)² + α‖β‖², the objective of scikit-learn's
/// `Ridge(alpha, fit_intercept=True).fit(X, y, sample_weight=w)` that the LIME package fits.
/// Centring X and y on their weighted means removes b; then (Xcᵀ W Xc + α I) β = Xcᵀ W yc is solved
/// by Cholesky in Double, and b = ȳ − x̄·β. The system has one row and column per feature (LIME: a
/// few dozen superpixels), so it is solved directly.
public struct RidgeFit: Equatable, Sendable {
  public var coefficients: [Double]
  public var intercept: Double
  /// Weighted R² of the fit on its own samples (scikit-learn's `score` with `sample_weight`):
  /// how well the linear surrogate follows the model near this image.
  public var score: Double

  /// The surrogate's value for one feature vector.
  public func predict(_ x: [Double]) -> Double {
    precondition(x.count == coefficients.count)
    var s = intercept
    for j in 0..<x.count { s += coefficients[j] * x[j] }
    return s
  }
}

public enum WeightedRidge {
  public enum FitError: Error, Equatable, CustomStringConvertible {
    /// The weights sum to zero (or are not finite): there is nothing to fit.
    case noWeight
    /// With α = 0 and collinear features the normal equations have no unique solution.
    case singular

    public var description: String {
      switch self {
      case .noWeight: return "ridge fit: the sample weights sum to zero"
      case .singular: return "ridge fit: the features are collinear and alpha is 0"
      }
    }
  }

  /// Fits `features` (row-major, `targets.count` rows of `featureCount` values) to `targets` with
  /// sample `weights` and penalty `alpha` ≥ 0.
  public static func fit(
    features x: [Double], featureCount p: Int, targets y: [Double], weights w: [Double], alpha: Double
  ) throws(FitError) -> RidgeFit {
    let m = y.count
    precondition(x.count == m * p && w.count == m && alpha >= 0 && p >= 0)
    let totalWeight = w.reduce(0, +)
    guard totalWeight > 0, totalWeight.isFinite else { throw .noWeight }
    var xMean = [Double](repeating: 0, count: p)
    var yMean = 0.0
    for i in 0..<m {
      yMean += w[i] * y[i]
      for j in 0..<p { xMean[j] += w[i] * x[i * p + j] }
    }
    yMean /= totalWeight
    for j in 0..<p { xMean[j] /= totalWeight }

    // A = Xcᵀ W Xc + α I (upper triangle, then mirrored), c = Xcᵀ W yc.
    var a = [Double](repeating: 0, count: p * p)
    var c = [Double](repeating: 0, count: p)
    var row = [Double](repeating: 0, count: p)
    for i in 0..<m {
      let wi = w[i]
      guard wi != 0 else { continue }
      for j in 0..<p { row[j] = x[i * p + j] - xMean[j] }
      let yi = y[i] - yMean
      for j in 0..<p {
        let wr = wi * row[j]
        c[j] += wr * yi
        for k in j..<p { a[j * p + k] += wr * row[k] }
      }
    }
    for j in 0..<p {
      a[j * p + j] += alpha
      for k in 0..<j { a[j * p + k] = a[k * p + j] }
    }
    let beta = try solveSymmetricPositiveDefinite(a, c, size: p)
    var intercept = yMean
    for j in 0..<p { intercept -= xMean[j] * beta[j] }
    var fit = RidgeFit(coefficients: beta, intercept: intercept, score: 0)

    var residual = 0.0
    var total = 0.0
    for i in 0..<m {
      var pred = intercept
      for j in 0..<p { pred += beta[j] * x[i * p + j] }
      residual += w[i] * (y[i] - pred) * (y[i] - pred)
      total += w[i] * (y[i] - yMean) * (y[i] - yMean)
    }
    // scikit-learn's r2_score: 1 for a perfect fit of constant targets, 0 for an imperfect one.
    fit.score = total > 0 ? 1 - residual / total : (residual == 0 ? 1 : 0)
    return fit
  }

  /// Solves A z = b for a symmetric positive definite A (row-major n × n) by Cholesky, A = L Lᵀ.
  static func solveSymmetricPositiveDefinite(_ a: [Double], _ b: [Double], size n: Int) throws(FitError)
    -> [Double]
  {
    var l = [Double](repeating: 0, count: n * n)
    // Relative to the largest diagonal entry, a pivot this small means A is singular in Double.
    let scale = (0..<n).map { abs(a[$0 * n + $0]) }.max() ?? 0
    for j in 0..<n {
      var d = a[j * n + j]
      for k in 0..<j { d -= l[j * n + k] * l[j * n + k] }
      guard d > 1e-13 * max(scale, 1e-300), d.isFinite else { throw .singular }
      let ljj = d.squareRoot()
      l[j * n + j] = ljj
      for i in (j + 1)..<max(n, j + 1) {
        var s = a[i * n + j]
        for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
        l[i * n + j] = s / ljj
      }
    }
    var z = b
    for i in 0..<n {
      var s = z[i]
      for k in 0..<i { s -= l[i * n + k] * z[k] }
      z[i] = s / l[i * n + i]
    }
    for i in stride(from: n - 1, through: 0, by: -1) {
      var s = z[i]
      for k in (i + 1)..<max(n, i + 1) { s -= l[k * n + i] * z[k] }
      z[i] = s / l[i * n + i]
    }
    return z
  }
}
