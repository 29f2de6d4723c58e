import Imaging

/// The twelve whole-image colour statistics of `../shared/data/README.md`: per channel (R, G, B)
/// the mean, the standard deviation (population), and the 10th and 90th percentiles (numpy's
/// linear interpolation), of the 8-bit values scaled to [0, 1], over every pixel outside the
/// scale-bar corner. Ordered [meanR, meanG, meanB, stdR, stdG, stdB, p10R, p10G, p10B, p90R, p90G, p90B].
///
/// Colour alone separates Aria's classes (95 % with a linear classifier), so these are what a
/// stain-shortcut model leans on, and what tells an image from another lab's stain apart.
public struct ColourStatistics: Equatable, Sendable, Codable {
  public static let names = [
    "mean_r", "mean_g", "mean_b", "std_r", "std_g", "std_b", "p10_r", "p10_g", "p10_b", "p90_r", "p90_g",
    "p90_b",
  ]
  public var values: [Double]

  public init(values: [Double]) {
    precondition(values.count == 12)
    self.values = values
  }

  public init(_ image: RGBImage, excluding corner: CornerBlank? = .aria) {
    let r = corner?.rect(forWidth: image.width, height: image.height)
    var hist = [[Int]](repeating: [Int](repeating: 0, count: 256), count: 3)
    var n = 0
    image.pixels.withUnsafeBufferPointer { p in
      for y in 0..<image.height {
        for x in 0..<image.width {
          if let r, x >= r.x, x < r.maxX, y >= r.y, y < r.maxY { continue }
          let i = 3 * (y * image.width + x)
          hist[0][Int(p[i])] += 1
          hist[1][Int(p[i + 1])] += 1
          hist[2][Int(p[i + 2])] += 1
          n += 1
        }
      }
    }
    var v = [Double](repeating: 0, count: 12)
    for c in 0..<3 {
      var s = 0.0
      for k in 0..<256 { s += Double(k * hist[c][k]) }
      let mean = s / Double(max(n, 1))
      var ss = 0.0
      for k in 0..<256 where hist[c][k] > 0 {
        let d = Double(k) - mean
        ss += d * d * Double(hist[c][k])
      }
      v[c] = mean / 255
      v[3 + c] = (ss / Double(max(n, 1))).squareRoot() / 255
      v[6 + c] = Self.percentile(hist[c], n, 10) / 255
      v[9 + c] = Self.percentile(hist[c], n, 90) / 255
    }
    values = v
  }

  /// numpy.percentile (linear) of the values a histogram counts, without expanding it.
  static func percentile(_ hist: [Int], _ n: Int, _ p: Double) -> Double {
    guard n > 0 else { return 0 }
    let pos = p / 100 * Double(n - 1)
    let lo = Int(pos.rounded(.down))
    let f = pos - Double(lo)
    func value(at rank: Int) -> Double {
      var seen = 0
      for k in 0..<256 {
        seen += hist[k]
        if rank < seen { return Double(k) }
      }
      return 255
    }
    let a = value(at: lo)
    return lo + 1 < n ? a + f * (value(at: lo + 1) - a) : a
  }
}

/// Flags images whose colour statistics lie far from the training distribution: the Mahalanobis
/// distance to the nearest class mean under the pooled within-class covariance (ridge-regularised
/// so it is always invertible). Aria's classes were stained in separate batches, so each class is a
/// tight cluster; one covariance over all images would span the gaps between them and miss a
/// grayscale image sitting between clusters (measured: docs/model-card-notes.md). Without labels it
/// is a single cluster. The threshold is a quantile of the validation distances
/// (`withThreshold(validation:quantile:)`). A warning for the user ("colour unlike the training
/// data"), never a change to the prediction.
public struct ColourOutlierDetector: Equatable, Sendable, Codable {
  /// One mean per class (or one for unlabelled data), 12 values each.
  public var means: [[Double]]
  /// Inverse of the regularised pooled covariance, 12 x 12 row-major.
  public var inverseCovariance: [Double]
  public var threshold: Double

  enum CodingKeys: String, CodingKey {
    case means, threshold
    case inverseCovariance = "inverse_covariance"
  }

  public enum FitError: Error, Equatable, CustomStringConvertible {
    case tooFewImages(Int)
    case labelCount(images: Int, labels: Int)
    public var description: String {
      switch self {
      case .tooFewImages(let n):
        return "need more training images than classes to fit colour statistics, got \(n)"
      case .labelCount(let i, let l): return "\(i) colour statistics but \(l) labels"
      }
    }
  }

  /// Fits class means and the pooled within-class covariance (divided by n - classes); the ridge
  /// adds `ridge` times the mean variance to the diagonal.
  public init(training: [ColourStatistics], labels: [Int]? = nil, ridge: Double = 1e-3) throws(FitError) {
    let y = labels ?? [Int](repeating: 0, count: training.count)
    guard y.count == training.count else {
      throw FitError.labelCount(images: training.count, labels: y.count)
    }
    let groups = Dictionary(grouping: training.indices, by: { y[$0] }).sorted { $0.key < $1.key }
    guard training.count > groups.count, groups.count > 0 else { throw FitError.tooFewImages(training.count) }
    let d = 12
    var mus: [[Double]] = []
    var cov = [Double](repeating: 0, count: d * d)
    for (_, members) in groups {
      var mu = [Double](repeating: 0, count: d)
      for i in members { for k in 0..<d { mu[k] += training[i].values[k] / Double(members.count) } }
      for i in members {
        let v = training[i].values
        for a in 0..<d {
          let da = v[a] - mu[a]
          for b in 0..<d { cov[a * d + b] += da * (v[b] - mu[b]) }
        }
      }
      mus.append(mu)
    }
    let dof = Double(training.count - groups.count)
    cov = cov.map { $0 / dof }
    let meanVar = (0..<d).reduce(0.0) { $0 + cov[$1 * d + $1] } / Double(d)
    for i in 0..<d { cov[i * d + i] += ridge * max(meanVar, 1e-12) }
    means = mus
    inverseCovariance = invertSymmetricPositiveDefinite(cov, d)
    threshold = .infinity
  }

  /// Distance to the nearest class mean.
  public func distance(_ s: ColourStatistics) -> Double {
    let d = 12
    var best = Double.infinity
    for mean in means {
      var q = 0.0
      for i in 0..<d {
        let a = s.values[i] - mean[i]
        for j in 0..<d { q += a * inverseCovariance[i * d + j] * (s.values[j] - mean[j]) }
      }
      best = min(best, max(q, 0).squareRoot())
    }
    return best
  }

  /// The threshold: the `quantile` (numpy's linear percentile) of the validation images'
  /// distances. At the default 0.99, 1 % of validation images are flagged; on Aria that flags
  /// 90 % of grayscale and 62 % of 30°-hue-rotated validation images (docs/model-card-notes.md).
  public func withThreshold(validation: [ColourStatistics], quantile: Double = 0.99) -> ColourOutlierDetector
  {
    var c = self
    c.threshold = percentile(sortedValues: validation.map(distance).sorted(), 100 * quantile)
    return c
  }

  public func isOutlier(_ s: ColourStatistics) -> Bool { distance(s) > threshold }
}

/// Gauss-Jordan inverse with partial pivoting (the matrix is small and well-conditioned by the ridge).
func invertSymmetricPositiveDefinite(_ m: [Double], _ n: Int) -> [Double] {
  var a = m
  var inv = [Double](repeating: 0, count: n * n)
  for i in 0..<n { inv[i * n + i] = 1 }
  for col in 0..<n {
    var pivot = col
    for r in col..<n where abs(a[r * n + col]) > abs(a[pivot * n + col]) { pivot = r }
    if pivot != col {
      for k in 0..<n {
        a.swapAt(col * n + k, pivot * n + k)
        inv.swapAt(col * n + k, pivot * n + k)
      }
    }
    let p = a[col * n + col]
    for k in 0..<n {
      a[col * n + k] /= p
      inv[col * n + k] /= p
    }
    for r in 0..<n where r != col {
      let f = a[r * n + col]
      if f == 0 { continue }
      for k in 0..<n {
        a[r * n + k] -= f * a[col * n + k]
        inv[r * n + k] -= f * inv[col * n + k]
      }
    }
  }
  return inv
}
