import Dispatch
import Imaging
import MTACNN
import NeuralEngine

/// `blastview bench explain`: the cost of one LIME explanation at issue 9's defaults (about 50
/// SLIC regions, 500 perturbations) against Grad-CAM and one forward pass of the same network,
/// measured in the same run (the machine is shared: ratios mean more than seconds). LIME's time
/// is split into its parts: superpixels (SLIC), building the perturbed images, the network's
/// forward passes, and the ridge fit.
public enum ExplainBenchmark {
  public struct Options: Sendable {
    /// LIME perturbations.
    public var samples = 500
    /// LIME regions (about).
    public var regions = 50
    /// Perturbed images per forward pass.
    public var batch = 32
    /// Timed repetitions of each measurement (the median is reported).
    public var runs = 3

    public init() {}
  }

  /// Times `net` explaining `picture`; `source` names the image in the report.
  public static func run(
    net: MTACNNModel, picture: RGBImage, source: String, _ o: Options
  ) throws -> Report {
    precondition(o.samples >= 2 && o.regions >= 1 && o.batch >= 1 && o.runs >= 1)
    let (samples, regions, batch, runs) = (o.samples, o.regions, o.batch, o.runs)
    let input = net.preprocessing.input(picture)
    let explainer = Explainer(model: net)
    func time(_ body: () throws -> Void) rethrows -> Double {
      var t: [Double] = []
      for _ in 0..<runs {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        t.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
      }
      return t.sorted()[t.count / 2]
    }
    // Warm up: buffers allocated, kernels prepared.
    _ = try net.probabilities([input])
    _ = try net.probabilities(Array(repeating: input, count: batch))
    _ = try net.gradCAM([input], classIndices: [nil])

    let forward1 = try time { _ = try net.probabilities([input]) }
    let forwardBatch =
      try time { _ = try net.probabilities(Array(repeating: input, count: batch)) } / Double(batch)
    let gradcam = try time { _ = try explainer.explain(picture, ExplanationRequest(method: .gradcam)) }
    let lime = LIMEOptions(samples: samples, batchSize: batch)
    let request = ExplanationRequest(method: .lime, lime: lime, regions: regions)
    var regionCount = 0
    let limeTotal = try time {
      regionCount = try explainer.explain(picture, request).superpixels?.count ?? 0
    }
    // LIME's parts, timed the same way.
    let shown = PlanarImage(net.preprocessing.resized(picture))
    var sp = Superpixels.grid(width: 1, height: 1, regions: 1)
    let slic = time { sp = Superpixels.slic(shown, regions: regions) }
    let engine = LIME(options: lime)
    let design = engine.design(regions: sp.count)
    let fill = LIME.meanColour(input)
    let perturb = time {
      for i in 0..<samples {
        _ = LIME.perturbed(
          input, superpixels: sp, active: design[(i * sp.count)..<((i + 1) * sp.count)], fill: fill)
      }
    }
    let fit = try time {
      let w = LIME.kernelWeights(design: design, regions: sp.count, width: lime.kernelWidth)
      _ = try WeightedRidge.fit(
        features: design.map(Double.init), featureCount: sp.count,
        targets: (0..<samples).map { Double($0 % 7) / 7 }, weights: w, alpha: lime.ridgeAlpha)
    }
    return Report(
      size: net.size, threads: Threads.count, image: source, samples: samples, regions: regionCount,
      batch: batch,
      forwardBatch1: forward1, forwardPerImageInBatch: forwardBatch, gradcam: gradcam, lime: limeTotal,
      limeSuperpixels: slic, limePerturbations: perturb,
      limeForward: max(0, limeTotal - slic - perturb - fit),
      limeFit: fit)
  }

  /// The figures `bench explain` prints; times in seconds.
  public struct Report: Encodable, Sendable {
    public var size: Int
    public var threads: Int
    public var image: String
    public var samples: Int
    public var regions: Int
    public var batch: Int
    public var forwardBatch1: Double
    public var forwardPerImageInBatch: Double
    public var gradcam: Double
    public var lime: Double
    public var limeSuperpixels: Double
    public var limePerturbations: Double
    public var limeForward: Double
    public var limeFit: Double

    enum CodingKeys: String, CodingKey {
      case size, threads, image, samples, regions, batch, gradcam, lime
      case forwardBatch1 = "forward_batch1_s"
      case forwardPerImageInBatch = "forward_per_image_in_batch_s"
      case limeSuperpixels = "lime_superpixels_s"
      case limePerturbations = "lime_perturbations_s"
      case limeForward = "lime_forward_s"
      case limeFit = "lime_fit_s"
      case limeOverForward = "lime_over_forward"
      case limeOverGradcam = "lime_over_gradcam"
      case gradcamOverForward = "gradcam_over_forward"
    }

    public func encode(to encoder: Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(size, forKey: .size)
      try c.encode(threads, forKey: .threads)
      try c.encode(image, forKey: .image)
      try c.encode(samples, forKey: .samples)
      try c.encode(regions, forKey: .regions)
      try c.encode(batch, forKey: .batch)
      try c.encode(forwardBatch1, forKey: .forwardBatch1)
      try c.encode(forwardPerImageInBatch, forKey: .forwardPerImageInBatch)
      try c.encode(gradcam, forKey: .gradcam)
      try c.encode(lime, forKey: .lime)
      try c.encode(limeSuperpixels, forKey: .limeSuperpixels)
      try c.encode(limePerturbations, forKey: .limePerturbations)
      try c.encode(limeForward, forKey: .limeForward)
      try c.encode(limeFit, forKey: .limeFit)
      try c.encode(lime / forwardBatch1, forKey: .limeOverForward)
      try c.encode(lime / gradcam, forKey: .limeOverGradcam)
      try c.encode(gradcam / forwardBatch1, forKey: .gradcamOverForward)
    }
  }
}
