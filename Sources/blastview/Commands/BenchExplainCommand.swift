import ArgumentParser
import Benchmarks
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
    var o = ExplainBenchmark.Options()
    (o.samples, o.regions, o.batch, o.runs) = (samples, regions, batch, runs)
    let report = try ExplainBenchmark.run(net: net, picture: picture, source: source, o)
    if json {
      try CLIText.printJSON(report)
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

extension ExplainBenchmark.Report {
  /// The report as the command prints it.
  var text: String {
    func ms(_ s: Double) -> String { String(format: "%8.1f ms", 1000 * s) }
    return [
      "S = \(size), \(threads) threads, image \(CLIText.safe(image)); LIME \(samples) perturbations, \(regions) regions, batches of \(batch)",
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
