import Foundation

/// A batch of network inputs in, one row of class probabilities per input out. LIME sees the model
/// only through this, so it explains any classifier (and tests use hand-built ones).
public typealias BatchClassifier = ([PlanarImage]) throws -> [[Float]]

/// LIME's settings. The defaults are issue 9's (500 samples) and the LIME package's
/// (`lime_image`: kernel width 0.25, `Ridge(alpha=1)`).
public struct LIMEOptions: Equatable, Sendable {
  /// Perturbed images, the unperturbed one included.
  public var samples: Int = 500
  /// Images per classifier call.
  public var batchSize: Int = 32
  /// Width of the exponential kernel on the cosine distance.
  public var kernelWidth: Double = 0.25
  /// Ridge penalty of the surrogate fit.
  public var ridgeAlpha: Double = 1
  /// How many of the most positive regions to report as the explanation's top regions.
  public var topRegions: Int = 5
  public var seed: UInt64 = 0

  public init(
    samples: Int = 500, batchSize: Int = 32, kernelWidth: Double = 0.25, ridgeAlpha: Double = 1,
    topRegions: Int = 5, seed: UInt64 = 0
  ) {
    self.samples = samples
    self.batchSize = batchSize
    self.kernelWidth = kernelWidth
    self.ridgeAlpha = ridgeAlpha
    self.topRegions = topRegions
    self.seed = seed
  }

  func validate() throws(ExplanationError) {
    guard samples >= 2 else { throw .invalidOption("samples", "\(samples)", "at least 2") }
    guard batchSize >= 1 else { throw .invalidOption("batch size", "\(batchSize)", "at least 1") }
    guard kernelWidth > 0, kernelWidth.isFinite else {
      throw .invalidOption("kernel width", "\(kernelWidth)", "a positive number")
    }
    guard ridgeAlpha >= 0, ridgeAlpha.isFinite else {
      throw .invalidOption("ridge alpha", "\(ridgeAlpha)", "zero or a positive number")
    }
    guard topRegions >= 0 else { throw .invalidOption("top regions", "\(topRegions)", "zero or more") }
  }
}

/// A LIME explanation of one image for one class.
public struct LIMEExplanation: Sendable {
  /// The explained class (the predicted one unless another was asked for).
  public var classIndex: Int
  /// The classifier's output for the unperturbed image.
  public var probabilities: [Float]
  public var superpixels: Superpixels
  /// The surrogate: one coefficient per superpixel (how much showing that region raises the
  /// class probability), its intercept and weighted R².
  public var fit: RidgeFit
  /// Regions with the largest positive weights, strongest first (at most `topRegions`).
  public var topRegions: [Int]
  /// Each pixel carries its region's weight.
  public var heatmap: AttributionMap

  public var weights: [Double] { fit.coefficients }
}

/// LIME for images (Ribeiro, Singh & Guestrin, KDD 2016), as the `lime` package's `lime_image`
/// does it, with the choices issue 9 fixes:
///
/// 1. the image is split into superpixels (`Superpixels.slic` or `.grid`);
/// 2. `samples` binary vectors z (one bit per superpixel) are drawn from `seed`; the first is all
///    ones (the image itself), the rest uniform bits; a 0 hides the region under the image's mean
///    colour;
/// 3. the perturbed images go through the classifier in batches;
/// 4. each sample is weighted by the exponential kernel √exp(−d²/width²) of its cosine distance d
///    to the all-ones vector;
/// 5. a weighted ridge regression of the class probability on z gives one weight per superpixel.
///
/// Every feature is fitted (the package's "auto" feature selection is not applied): the heatmap
/// then shows every region's weight, not only the selected ones. The result depends only on the
/// image, the superpixels, the options and the classifier.
public struct LIME: Sendable {
  public var options: LIMEOptions

  public init(options: LIMEOptions = LIMEOptions()) { self.options = options }

  /// The perturbation design: `samples` rows of `regions` bits, row-major; row 0 is all ones.
  public func design(regions: Int) -> [UInt8] {
    var z = [UInt8](repeating: 1, count: options.samples * regions)
    var rng = SplitMix64(seed: options.seed)
    var bits: UInt64 = 0
    var left = 0
    for i in regions..<z.count {
      if left == 0 {
        bits = rng.next()
        left = 64
      }
      z[i] = UInt8(bits & 1)
      bits >>= 1
      left -= 1
    }
    return z
  }

  /// The kernel weight of each design row: √exp(−d²/width²), d = 1 − cos(z, 1) = 1 − √(|z|/n)
  /// (a row with no region shown has cosine similarity 0, as scikit-learn's `cosine_distances`).
  public static func kernelWeights(design z: [UInt8], regions n: Int, width: Double) -> [Double] {
    precondition(n > 0 && z.count % n == 0)
    return (0..<(z.count / n)).map { i in
      var on = 0
      for j in 0..<n { on += Int(z[i * n + j]) }
      let d = 1 - (Double(on) / Double(n)).squareRoot()
      return exp(-d * d / (width * width)).squareRoot()
    }
  }

  /// The image with every region whose bit is 0 filled with `fill` (an RGB colour in [0, 1]).
  public static func perturbed(
    _ image: PlanarImage, superpixels sp: Superpixels, active: ArraySlice<UInt8>, fill: (Float, Float, Float)
  ) -> PlanarImage {
    precondition(active.count == sp.count && image.width == sp.width && image.height == sp.height)
    var out = image
    let n = image.pixelCount
    let base = active.startIndex
    out.data.withUnsafeMutableBufferPointer { d in
      sp.labels.withUnsafeBufferPointer { labels in
        for i in 0..<n where active[base + Int(labels[i])] == 0 {
          d[i] = fill.0
          d[n + i] = fill.1
          d[2 * n + i] = fill.2
        }
      }
    }
    return out
  }

  /// The image's mean colour: what hidden regions are filled with.
  public static func meanColour(_ image: PlanarImage) -> (Float, Float, Float) {
    let n = image.pixelCount
    var s = (0.0, 0.0, 0.0)
    for i in 0..<n {
      s.0 += Double(image.data[i])
      s.1 += Double(image.data[n + i])
      s.2 += Double(image.data[2 * n + i])
    }
    let d = Double(max(n, 1))
    return (Float(s.0 / d), Float(s.1 / d), Float(s.2 / d))
  }

  /// Explains `classifier`'s output for `classIndex` (default: the class it predicts for the
  /// unperturbed image). `progress(done, total)` is called after each batch with the number of
  /// samples evaluated; an error it throws stops the explanation (cancellation) and is rethrown.
  public func explain(
    _ image: PlanarImage, superpixels sp: Superpixels, classIndex requested: Int? = nil,
    classifier: BatchClassifier, progress: ((Int, Int) throws -> Void)? = nil
  ) throws -> LIMEExplanation {
    try options.validate()
    guard image.width == sp.width, image.height == sp.height else {
      throw ExplanationError.sizeMismatch(
        image: (image.width, image.height), superpixels: (sp.width, sp.height))
    }
    let regions = sp.count
    let total = options.samples
    let z = design(regions: regions)
    let fill = LIME.meanColour(image)
    var outputs: [[Float]] = []
    outputs.reserveCapacity(total)
    var start = 0
    while start < total {
      let end = min(start + options.batchSize, total)
      let batch = (start..<end).map { i in
        LIME.perturbed(image, superpixels: sp, active: z[(i * regions)..<((i + 1) * regions)], fill: fill)
      }
      let rows = try classifier(batch)
      guard rows.count == batch.count else {
        throw ExplanationError.classifierOutput("\(rows.count) rows for a batch of \(batch.count) images")
      }
      let width = outputs.first?.count ?? rows.first?.count ?? 0
      guard width > 0, rows.allSatisfy({ $0.count == width }) else {
        throw ExplanationError.classifierOutput("rows of differing or zero length")
      }
      guard rows.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
        throw ExplanationError.classifierOutput("a value that is not finite")
      }
      outputs.append(contentsOf: rows)
      start = end
      try progress?(start, total)
    }
    let probabilities = outputs[0]
    let k: Int
    if let requested {
      guard requested >= 0, requested < probabilities.count else {
        throw ExplanationError.classOutOfRange(requested, classes: probabilities.count)
      }
      k = requested
    } else {
      k = probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
    }
    let weights = LIME.kernelWeights(design: z, regions: regions, width: options.kernelWidth)
    let fit: RidgeFit
    do {
      fit = try WeightedRidge.fit(
        features: z.map(Double.init), featureCount: regions, targets: outputs.map { Double($0[k]) },
        weights: weights, alpha: options.ridgeAlpha)
    } catch {
      throw ExplanationError.fit(error)
    }
    let top = LIME.topRegions(fit.coefficients, count: options.topRegions)
    return LIMEExplanation(
      classIndex: k, probabilities: probabilities, superpixels: sp, fit: fit, topRegions: top,
      heatmap: AttributionMap(superpixels: sp, weights: fit.coefficients))
  }

  /// The `count` regions with the largest positive weights, strongest first (ties: lower label).
  public static func topRegions(_ weights: [Double], count: Int) -> [Int] {
    Array(
      weights.indices.filter { weights[$0] > 0 }
        .sorted { weights[$0] > weights[$1] || (weights[$0] == weights[$1] && $0 < $1) }
        .prefix(count))
  }
}
