import Foundation

/// Stain normalisation, applied after resizing and identically in training and prediction. The
/// reference statistics are part of the model configuration (`stain_normalisation` in the
/// checkpoint's config JSON), so prediction normalises exactly as training did.
public enum StainNormalisation: Codable, Equatable, Sendable {
  /// Reinhard et al. 2001 in CIE Lab (D65, sRGB): per channel `(v - mean) / std * refStd + refMean`.
  case reinhard(mean: [Double], std: [Double])
  /// Macenko et al. 2009: the image's two stain vectors and 99th-percentile concentrations are
  /// mapped onto the reference's `stains` (2 unit OD vectors) and `maxConcentration`.
  case macenko(stains: [[Double]], maxConcentration: [Double])

  /// Reinhard reference statistics from training images: the mean of their per-image Lab means
  /// and standard deviations (the PyTorch reference uses a seeded sample of up to 200 training images).
  public static func fitReinhard(_ images: [PlanarImage]) -> StainNormalisation {
    precondition(!images.isEmpty, "no images to fit stain statistics on")
    var mean = [0.0, 0.0, 0.0]
    var std = [0.0, 0.0, 0.0]
    for im in images {
      let (m, s) = Reinhard.statistics(im)
      for c in 0..<3 {
        mean[c] += m[c] / Double(images.count)
        std[c] += s[c] / Double(images.count)
      }
    }
    return .reinhard(mean: mean, std: std)
  }

  /// Macenko reference from training images: the element-wise median of their stain vectors
  /// (renormalised to unit length) and of their 99th-percentile concentrations.
  public static func fitMacenko(_ images: [PlanarImage]) -> StainNormalisation {
    precondition(!images.isEmpty, "no images to fit stain statistics on")
    let fits = images.map { Macenko.stains($0) }
    func median(_ v: [Double]) -> Double {
      let s = v.sorted()
      return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    let stains = (0..<2).map { k -> [Double] in
      let v = (0..<3).map { c in median(fits.map { $0.stains[k][c] }) }
      let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).squareRoot()
      return v.map { $0 / n }
    }
    let maxC = (0..<2).map { k in median(fits.map { $0.maxConcentration[k] }) }
    return .macenko(stains: stains, maxConcentration: maxC)
  }

  public func apply(to image: inout PlanarImage) {
    switch self {
    case .reinhard(let mean, let std): Reinhard.normalise(&image, mean: mean, std: std)
    case .macenko(let stains, let maxC): Macenko.normalise(&image, stains: stains, maxConcentration: maxC)
    }
  }

  // JSON as the PyTorch reference writes it: {"method": "reinhard", "mean": [...], "std": [...]}
  // or {"method": "macenko", "stains": [[...], [...]], "max_conc": [...]}.
  enum CodingKeys: String, CodingKey { case method, mean, std, stains, maxConc = "max_conc" }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let method = try c.decode(String.self, forKey: .method)
    switch method {
    case "reinhard":
      let mean = try c.decode([Double].self, forKey: .mean)
      let std = try c.decode([Double].self, forKey: .std)
      guard mean.count == 3, std.count == 3 else {
        throw DecodingError.dataCorruptedError(
          forKey: .mean, in: c, debugDescription: "reinhard mean and std need 3 values each")
      }
      self = .reinhard(mean: mean, std: std)
    case "macenko":
      let stains = try c.decode([[Double]].self, forKey: .stains)
      let maxC = try c.decode([Double].self, forKey: .maxConc)
      guard stains.count == 2, stains.allSatisfy({ $0.count == 3 }), maxC.count == 2 else {
        throw DecodingError.dataCorruptedError(
          forKey: .stains, in: c, debugDescription: "macenko needs 2 stain vectors of 3 and 2 max_conc")
      }
      self = .macenko(stains: stains, maxConcentration: maxC)
    default:
      throw DecodingError.dataCorruptedError(
        forKey: .method, in: c, debugDescription: "unknown stain normalisation method")
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .reinhard(let mean, let std):
      try c.encode("reinhard", forKey: .method)
      try c.encode(mean, forKey: .mean)
      try c.encode(std, forKey: .std)
    case .macenko(let stains, let maxC):
      try c.encode("macenko", forKey: .method)
      try c.encode(stains, forKey: .stains)
      try c.encode(maxC, forKey: .maxConc)
    }
  }
}

/// CIE Lab (D65 white, sRGB transfer) and Reinhard's statistics matching.
public enum Reinhard {
  static let rgbToXYZ: [[Double]] = [
    [0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041],
  ]
  static let xyzToRGB = ColourOperations.invert3x3(rgbToXYZ)
  static let white = (0.95047, 1.0, 1.08883)

  public static func lab(_ r: Double, _ g: Double, _ b: Double) -> (Double, Double, Double) {
    func lin(_ v: Double) -> Double { v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4) }
    let (lr, lg, lb) = (lin(r), lin(g), lin(b))
    let m = rgbToXYZ
    let x = (m[0][0] * lr + m[0][1] * lg + m[0][2] * lb) / white.0
    let y = (m[1][0] * lr + m[1][1] * lg + m[1][2] * lb) / white.1
    let z = (m[2][0] * lr + m[2][1] * lg + m[2][2] * lb) / white.2
    let d = 6.0 / 29
    func f(_ t: Double) -> Double { t > d * d * d ? cbrt(t) : t / (3 * d * d) + 4.0 / 29 }
    let (fx, fy, fz) = (f(x), f(y), f(z))
    return (116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))
  }

  public static func rgb(_ l: Double, _ a: Double, _ bb: Double) -> (Double, Double, Double) {
    let d = 6.0 / 29
    let fy = (l + 16) / 116
    let fx = fy + a / 500
    let fz = fy - bb / 200
    func finv(_ t: Double) -> Double { t > d ? t * t * t : 3 * d * d * (t - 4.0 / 29) }
    let x = finv(fx) * white.0
    let y = finv(fy) * white.1
    let z = finv(fz) * white.2
    let m = xyzToRGB
    func gamma(_ v: Double) -> Double {
      let c = max(0, v)
      return min(1, max(0, c <= 0.0031308 ? 12.92 * c : 1.055 * pow(c, 1 / 2.4) - 0.055))
    }
    return (
      gamma(m[0][0] * x + m[0][1] * y + m[0][2] * z), gamma(m[1][0] * x + m[1][1] * y + m[1][2] * z),
      gamma(m[2][0] * x + m[2][1] * y + m[2][2] * z)
    )
  }

  /// Per-channel mean and (population) standard deviation of the image in Lab.
  public static func statistics(_ image: PlanarImage) -> (mean: [Double], std: [Double]) {
    let n = image.pixelCount
    var labs = [Double](repeating: 0, count: 3 * n)
    var sum = [0.0, 0.0, 0.0]
    for i in 0..<n {
      let v = lab(Double(image.data[i]), Double(image.data[n + i]), Double(image.data[2 * n + i]))
      labs[3 * i] = v.0
      labs[3 * i + 1] = v.1
      labs[3 * i + 2] = v.2
      sum[0] += v.0
      sum[1] += v.1
      sum[2] += v.2
    }
    let mean = sum.map { $0 / Double(max(n, 1)) }
    var sq = [0.0, 0.0, 0.0]
    for i in 0..<n {
      for c in 0..<3 {
        let d = labs[3 * i + c] - mean[c]
        sq[c] += d * d
      }
    }
    return (mean, sq.map { ($0 / Double(max(n, 1))).squareRoot() })
  }

  public static func normalise(_ image: inout PlanarImage, mean refMean: [Double], std refStd: [Double]) {
    let (m, s) = statistics(image)
    let sd = s.map { max($0, 1e-6) }
    ColourOperations.mapPixels(&image) { r, g, b in
      let v = lab(r, g, b)
      return rgb(
        (v.0 - m[0]) / sd[0] * refStd[0] + refMean[0], (v.1 - m[1]) / sd[1] * refStd[1] + refMean[1],
        (v.2 - m[2]) / sd[2] * refStd[2] + refMean[2])
    }
  }
}

/// Macenko's stain estimation: optical densities above `beta` in every channel, the plane of their
/// two main eigenvectors, the angles' `alpha` and `100 - alpha` percentiles as the stain vectors
/// (haematoxylin-like first: the larger red optical density).
public enum Macenko {
  public static func odPixels(_ image: PlanarImage) -> [(Double, Double, Double)] {
    let n = image.pixelCount
    let e = ColourOperations.odEpsilon
    return (0..<n).map { i in
      (
        -log(max(Double(image.data[i]), e)), -log(max(Double(image.data[n + i]), e)),
        -log(max(Double(image.data[2 * n + i]), e))
      )
    }
  }

  public static func stains(
    _ image: PlanarImage, beta: Double = 0.15, alpha: Double = 1
  ) -> (stains: [[Double]], maxConcentration: [Double]) {
    let od = odPixels(image)
    var keep = od.filter { $0.0 > beta && $0.1 > beta && $0.2 > beta }
    if keep.count < 10 { keep = od }
    let cov = covariance(keep)
    let (_, vecs) = symmetricEigen3(cov)  // ascending eigenvalues; columns are eigenvectors
    var e1 = [vecs[0][2], vecs[1][2], vecs[2][2]]
    var e2 = [vecs[0][1], vecs[1][1], vecs[2][1]]
    // orient as numpy's reference: the sign that makes the first eigenvector's components sum positive
    let sgn: Double = (e1[0] + e1[1] + e1[2]) < 0 ? -1 : 1
    e1 = e1.map { $0 * sgn }
    e2 = e2.map { $0 * sgn }
    let phi = keep.map { p -> Double in
      let x = p.0 * e1[0] + p.1 * e1[1] + p.2 * e1[2]
      let y = p.0 * e2[0] + p.1 * e2[1] + p.2 * e2[2]
      return atan2(y, x)
    }.sorted()
    let lo = percentile(sortedValues: phi, alpha)
    let hi = percentile(sortedValues: phi, 100 - alpha)
    func vec(_ a: Double) -> [Double] { (0..<3).map { e1[$0] * cos(a) + e2[$0] * sin(a) } }
    var v1 = vec(lo)
    var v2 = vec(hi)
    if !(v1[0] > v2[0]) { swap(&v1, &v2) }
    let s = [v1, v2].map { v -> [Double] in
      let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).squareRoot()
      return v.map { $0 / n }
    }
    let conc = concentrations(od, stains: s)
    return (s, [0, 1].map { k in percentile(sortedValues: conc.map { $0[k] }.sorted(), 99) })
  }

  public static func normalise(
    _ image: inout PlanarImage, stains ref: [[Double]], maxConcentration refMax: [Double]
  ) {
    let (s, cmax) = stains(image)
    let od = odPixels(image)
    let conc = concentrations(od, stains: s)
    let scale = [refMax[0] / max(cmax[0], 1e-6), refMax[1] / max(cmax[1], 1e-6)]
    let n = image.pixelCount
    for i in 0..<n {
      let c0 = conc[i][0] * scale[0]
      let c1 = conc[i][1] * scale[1]
      for ch in 0..<3 {
        image.data[ch * n + i] = Float(min(1, max(0, exp(-(ref[0][ch] * c0 + ref[1][ch] * c1)))))
      }
    }
  }

  /// Least-squares concentrations of two stains per pixel (normal equations of the 3x2 system).
  static func concentrations(_ od: [(Double, Double, Double)], stains s: [[Double]]) -> [[Double]] {
    let a11 = s[0][0] * s[0][0] + s[0][1] * s[0][1] + s[0][2] * s[0][2]
    let a12 = s[0][0] * s[1][0] + s[0][1] * s[1][1] + s[0][2] * s[1][2]
    let a22 = s[1][0] * s[1][0] + s[1][1] * s[1][1] + s[1][2] * s[1][2]
    let det = a11 * a22 - a12 * a12
    return od.map { p in
      let b1 = s[0][0] * p.0 + s[0][1] * p.1 + s[0][2] * p.2
      let b2 = s[1][0] * p.0 + s[1][1] * p.1 + s[1][2] * p.2
      return [(a22 * b1 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det]
    }
  }

  /// Sample covariance (n - 1), as numpy.cov.
  static func covariance(_ p: [(Double, Double, Double)]) -> [[Double]] {
    let n = Double(p.count)
    var m = [0.0, 0.0, 0.0]
    for v in p {
      m[0] += v.0
      m[1] += v.1
      m[2] += v.2
    }
    m = m.map { $0 / n }
    var c = [[Double]](repeating: [0, 0, 0], count: 3)
    for v in p {
      let d = [v.0 - m[0], v.1 - m[1], v.2 - m[2]]
      for i in 0..<3 { for j in 0..<3 { c[i][j] += d[i] * d[j] } }
    }
    return c.map { $0.map { $0 / max(n - 1, 1) } }
  }

  /// Jacobi eigenvalue iteration for a symmetric 3x3 matrix: (ascending eigenvalues, eigenvector columns).
  static func symmetricEigen3(_ a0: [[Double]]) -> ([Double], [[Double]]) {
    var a = a0
    var v: [[Double]] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    for _ in 0..<100 {
      var p = 0
      var q = 1
      for (i, j) in [(0, 1), (0, 2), (1, 2)] where abs(a[i][j]) > abs(a[p][q]) {
        p = i
        q = j
      }
      if abs(a[p][q]) < 1e-15 { break }
      let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
      let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
      let c = 1 / (t * t + 1).squareRoot()
      let s = t * c
      for k in 0..<3 {
        let akp = a[k][p]
        let akq = a[k][q]
        a[k][p] = c * akp - s * akq
        a[k][q] = s * akp + c * akq
      }
      for k in 0..<3 {
        let apk = a[p][k]
        let aqk = a[q][k]
        a[p][k] = c * apk - s * aqk
        a[q][k] = s * apk + c * aqk
      }
      for k in 0..<3 {
        let vkp = v[k][p]
        let vkq = v[k][q]
        v[k][p] = c * vkp - s * vkq
        v[k][q] = s * vkp + c * vkq
      }
    }
    let order = [0, 1, 2].sorted { a[$0][$0] < a[$1][$1] }
    let vals = order.map { a[$0][$0] }
    let vecs = (0..<3).map { r in order.map { v[r][$0] } }
    return (vals, vecs)
  }
}

/// numpy.percentile's default ("linear"): position p/100 * (n - 1), interpolated.
public func percentile(sortedValues v: [Double], _ p: Double) -> Double {
  guard !v.isEmpty else { return .nan }
  let pos = p / 100 * Double(v.count - 1)
  let i = Int(pos.rounded(.down))
  let f = pos - Double(i)
  return i + 1 < v.count ? v[i] + f * (v[i + 1] - v[i]) : v[v.count - 1]
}
