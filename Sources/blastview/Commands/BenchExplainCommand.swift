import ArgumentParser
import Foundation
import Imaging
import MTACNN
import NeuralEngine
import Terminal

/// `blastview bench explain`: the cost of one LIME explanation at issue 9's defaults (about 50 SLIC
/// regions, 500 perturbations) against Grad-CAM and one forward pass of the same network, measured
/// in the same run (the machine is shared: ratios mean more than seconds).
struct BenchExplainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "explain",
    abstract: "Time LIME per image against Grad-CAM and one forward pass.",
    discussion: """
      The network is --model FILE, else DESIGN §4's default all4 network at --size with seeded \
      random weights (the weights do not change the cost). The image is --image FILE, else a \
      wbc-seg image from SampleData, else a built-in test pattern. LIME's time is split into \
      its parts: superpixels (SLIC), building the perturbed images, the network's forward \
      passes, and the ridge fit.
      """)

  @Option(
    help: ArgumentHelp("A checkpoint (default: the default all4 network, random weights).", valueName: "file")
  )
  var model: String?

  @Option(help: "Input size S of the default network.")
  var size = 128

  @Option(help: ArgumentHelp("The image to explain.", valueName: "file"))
  var image: String?

  @Option(help: "LIME perturbations.")
  var samples = 500

  @Option(help: "LIME regions (about).")
  var regions = 50

  @Option(help: "LIME batch size (perturbed images per forward pass).")
  var batch = 32

  @Option(help: "Timed repetitions of each measurement (the median is reported).")
  var runs = 3

  @Option(help: "Threads (default: the number of CPUs).")
  var threads: Int?

  @Flag(help: "Print JSON.")
  var json = false

  func validate() throws {
    guard size >= 16, size % 16 == 0 else {
      throw ValidationError("--size must be a positive multiple of 16")
    }
    guard samples >= 2, regions >= 1, batch >= 1, runs >= 1 else {
      throw ValidationError("--samples >= 2, --regions >= 1, --batch >= 1, --runs >= 1")
    }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
  }

  func run() throws {
    Threads.set(threads ?? Threads.available)
    let net: MTACNNModel
    if let model {
      do { (net, _) = try ModelCheckpoint.load(path: model) } catch {
        throw CLIError(message: "model \(model): \(error)")
      }
    } else {
      net = try MTACNNModel(configuration: ModelConfiguration.defaults(for: .all4, size: size), seed: 1)
    }
    let (picture, source) = try benchImage()
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
    let report = ExplainBenchmark(
      size: net.size, threads: Threads.count, image: source, samples: samples, regions: regionCount,
      batch: batch,
      forwardBatch1: forward1, forwardPerImageInBatch: forwardBatch, gradcam: gradcam, lime: limeTotal,
      limeSuperpixels: slic, limePerturbations: perturb,
      limeForward: max(0, limeTotal - slic - perturb - fit),
      limeFit: fit)
    if json {
      try JSONOutput.print(report)
    } else {
      print(report.text)
    }
  }

  private func benchImage() throws -> (RGBImage, String) {
    if let image {
      do { return (try decodeImage(at: image), image) } catch {
        throw CLIError(message: "image \(image): \(error)")
      }
    }
    let sample = "SampleData/wbc-seg/images/lymphocyte/001.png"
    if let im = try? decodeImage(at: sample) { return (im, sample) }
    return (TestPattern.image(index: 0, width: 224, height: 224), "built-in test pattern")
  }
}

/// The figures `bench explain` prints; times in seconds.
struct ExplainBenchmark: Encodable {
  var size: Int
  var threads: Int
  var image: String
  var samples: Int
  var regions: Int
  var batch: Int
  var forwardBatch1: Double
  var forwardPerImageInBatch: Double
  var gradcam: Double
  var lime: Double
  var limeSuperpixels: Double
  var limePerturbations: Double
  var limeForward: Double
  var limeFit: Double

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

  func encode(to encoder: Encoder) throws {
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

  var text: String {
    func ms(_ s: Double) -> String { String(format: "%8.1f ms", 1000 * s) }
    return [
      "S = \(size), \(threads) threads, image \(Sanitizer.sanitize(image)); LIME \(samples) perturbations, \(regions) regions, batches of \(batch)",
      "forward pass, 1 image (baseline)       \(ms(forwardBatch1))      1.0x",
      "forward pass, per image in a batch     \(ms(forwardPerImageInBatch)) \(String(format: "%8.2fx", forwardPerImageInBatch / forwardBatch1))",
      "Grad-CAM (forward + backward)          \(ms(gradcam)) \(String(format: "%8.2fx", gradcam / forwardBatch1))",
      "LIME                                   \(ms(lime)) \(String(format: "%8.1fx", lime / forwardBatch1))  (\(String(format: "%.1f", lime / gradcam))x Grad-CAM)",
      "  superpixels (SLIC)                   \(ms(limeSuperpixels))",
      "  perturbed images                     \(ms(limePerturbations))",
      "  forward passes                       \(ms(limeForward))  (\(String(format: "%.2f", limeForward / Double(samples) / forwardPerImageInBatch))x the batched forward per image)",
      "  ridge fit                            \(ms(limeFit))",
    ].joined(separator: "\n")
  }
}
