import ArgumentParser
import Benchmarks
import Foundation
import MTACNN
import NeuralEngine

/// `blastview bench engine`: the neural engine on DESIGN §4's default network.
struct BenchEngineCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "engine",
    abstract: "Time a training step, inference and each convolution of the default network.",
    discussion: """
      Per-layer speeds are given as a fraction of the sgemm speed measured in the same run. \
      Benchmarks/compare_pytorch.py runs this interleaved with PyTorch and prints the ratios.
      """
  )

  @Option(help: "Input size S (images are S×S; a multiple of 16).")
  var size = 224

  @Option(help: "Batch size.")
  var batch = 32

  @Option(help: "Threads (default: the number of CPUs).")
  var threads: Int?

  @Option(help: "Timed training steps, after one warm-up step.")
  var steps = 3

  @Option(help: "Timed inference passes.")
  var runs = 3

  @Flag(inversion: .prefixedNo, help: "Time each convolution on its own.")
  var layers = true

  @Option(help: "What to run: train, infer, layers (only the per-convolution timings) or all.")
  var mode = "all"

  @Option(help: "Convolution algorithm: automatic, direct, winograd or im2col.")
  var convolution = "automatic"

  @Option(
    help:
      "Network: mtacnn (the MTACNN module's model, what users run) or reference (ReferenceMTACNN, the network compared with PyTorch)."
  )
  var network = "mtacnn"

  @Flag(help: "Print the report as JSON.")
  var json = false

  func validate() throws {
    guard ["mtacnn", "reference"].contains(network) else {
      throw ValidationError("--network must be mtacnn or reference, got \(network.debugDescription)")
    }
    guard size >= 16, size % 16 == 0 else {
      throw ValidationError("--size must be a positive multiple of 16, got \(size)")
    }
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    guard steps >= 1, runs >= 1 else { throw ValidationError("--steps and --runs must be at least 1") }
    guard ConvAlgorithm(rawValue: convolution) != nil else {
      throw ValidationError(
        "--convolution must be automatic, direct, winograd or im2col, got \(convolution.debugDescription)")
    }
    guard ["train", "infer", "layers", "all"].contains(mode) else {
      throw ValidationError("--mode must be train, infer, layers or all, got \(mode.debugDescription)")
    }
  }

  func run() throws {
    var o = EngineBenchmarkOptions()
    o.size = size
    o.batch = batch
    o.threads = threads ?? Threads.available
    o.trainSteps = steps
    o.inferenceRuns = runs
    o.layers = layers
    o.train = mode == "all" || mode == "train"
    o.infer = mode == "all" || mode == "infer"
    o.convolution = ConvAlgorithm(rawValue: convolution)!
    o.layers = layers || mode == "layers"
    let quiet = json
    let build: ((Int, UInt64) -> BenchmarkNetwork)? =
      network == "mtacnn" ? { MTACNNModel.benchmarkDefault(size: $0, seed: $1) } : nil
    let report = EngineBenchmark.run(o, network: build) { line in
      if !quiet { print(line) }
    }
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try enc.encode(report), as: UTF8.self))
      return
    }
    print(
      String(
        format: "\nnetwork: %d parameters, %.3f GFLOP forward per image (%.3f in convolutions)",
        report.parameters, report.forwardGFLOPPerImage, report.convolutionGFLOPPerImage))
    if let t = report.train {
      let cpu = EngineBenchmark.median(t.stepCPUSeconds)
      let rss = Double(t.peakResidentBytes) / 1_073_741_824
      print(
        String(
          format:
            "train: %.2f images/s (%.1f GFLOP/s, %.2f of sgemm); %.2f CPU s per step; %.0f page faults per step",
          t.imagesPerSecond, t.gflops, t.gflops / report.sgemmGFLOPS, cpu, t.pageFaultsPerStep))
      print(String(format: "peak RSS %.2f GiB", rss))
      printSections("training step profile", report.trainProfile)
    }
    if let i = report.inference {
      print(
        String(
          format: "inference: %.1f images/s at batch %d (%.2f CPU s per batch); %.1f ms at batch 1",
          i.imagesPerSecond, report.batch, EngineBenchmark.median(i.batchCPUSeconds),
          i.batch1MedianMilliseconds))
      printSections("inference profile", report.inferenceProfile)
    }
  }

  private func printSections(_ title: String, _ sections: [EngineBenchmarkReport.Section]) {
    print("  \(title), per step:     wall ms      %    CPU ms      %")
    for s in sections where s.cpuPercent >= 0.3 || s.percent >= 0.3 {
      print(
        String(
          format: "    %-28@ %8.1f  %5.1f  %8.1f  %5.1f", s.name as NSString, s.millisecondsPerStep,
          s.percent,
          s.cpuMillisecondsPerStep, s.cpuPercent))
    }
  }
}
