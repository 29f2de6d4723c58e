import COpenBLAS
import Foundation
import NeuralEngine
import ReferenceNetwork

/// Settings of `blastview bench engine`.
public struct EngineBenchmarkOptions: Sendable {
  public var size = 224
  public var batch = 32
  public var threads = Threads.available
  /// Timed training steps (after one untimed warm-up step).
  public var trainSteps = 3
  /// Timed inference passes at the batch size and at batch 1 (after a warm-up each).
  public var inferenceRuns = 3
  /// Also time every convolution on its own.
  public var layers = true
  /// Which parts to run: "train", "infer" or both.
  public var train = true
  public var infer = true
  public var seed: UInt64 = 1
  /// Convolution algorithm for every layer (`.automatic` is what users run).
  public var convolution = ConvAlgorithm.automatic

  public init() {}
}

/// What `blastview bench engine` measured. Speeds are also given as fractions of the sgemm
/// speed measured in the same run, since the machine is shared and absolute figures drift.
public struct EngineBenchmarkReport: Codable, Sendable {
  public struct Machine: Codable, Sendable {
    public var cpu: String
    public var cpus: Int
    public var openblas: String
  }

  public struct Train: Codable, Sendable {
    public var stepSeconds: [Double]
    /// CPU time (all threads) per step: robust to other load on the machine.
    public var stepCPUSeconds: [Double]
    /// Minor page faults per timed step (0 when nothing is allocated in the step loop).
    public var pageFaultsPerStep: Double
    public var imagesPerSecond: Double
    /// 3 × forward FLOPs (forward, input gradient, weight gradient) per second.
    public var gflops: Double
    public var peakResidentBytes: Int
  }

  public struct Inference: Codable, Sendable {
    public var batchSeconds: [Double]
    /// CPU time (all threads) per batch.
    public var batchCPUSeconds: [Double]
    public var imagesPerSecond: Double
    public var batch1Milliseconds: [Double]
    public var batch1MedianMilliseconds: Double
  }

  public struct Section: Codable, Sendable {
    public var name: String
    public var millisecondsPerStep: Double
    public var percent: Double
    /// CPU milliseconds (all threads) per step, and the share of the step's CPU time.
    public var cpuMillisecondsPerStep: Double
    public var cpuPercent: Double
  }

  public struct LayerTiming: Codable, Sendable {
    public var name: String
    public var input: [Int]
    public var output: [Int]
    public var forwardMilliseconds: Double
    public var backwardMilliseconds: Double
    public var forwardGFLOPS: Double
    public var backwardGFLOPS: Double
    /// GFLOP/s as a fraction of `sgemmGFLOPS`.
    public var forwardFraction: Double
    public var backwardFraction: Double
    /// GFLOP per CPU-second (all threads): the kernels' efficiency, little affected by other load.
    public var forwardGFLOPPerCPUSecond: Double
    public var backwardGFLOPPerCPUSecond: Double
    /// True when backward computes only the weight gradient (the network's first layer).
    public var weightGradientOnly: Bool
  }

  public var machine: Machine
  public var size: Int
  public var batch: Int
  public var threads: Int
  public var parameters: Int
  public var forwardGFLOPPerImage: Double
  public var convolutionGFLOPPerImage: Double
  /// sgemm on 2048×2048×2048 over the engine's threads, best of three.
  public var sgemmGFLOPS: Double
  public var train: Train?
  public var trainProfile: [Section]
  public var inference: Inference?
  public var inferenceProfile: [Section]
  public var layers: [LayerTiming]
}

/// The engine benchmark: DESIGN §4's default network on synthetic images and masks; `network`
/// builds it for (size, seed) — the `MTACNN` module's model in `blastview bench engine` — else the
/// `ReferenceMTACNN` (the network `Benchmarks/compare_pytorch.py` runs in PyTorch).
public enum EngineBenchmark {
  public static func run(
    _ o: EngineBenchmarkOptions, network: ((_ size: Int, _ seed: UInt64) -> BenchmarkNetwork)? = nil,
    log: (String) -> Void = { _ in }
  ) -> EngineBenchmarkReport {
    Threads.set(o.threads)
    var config = ReferenceMTACNNConfig()
    config.imageSize = o.size
    config.seed = o.seed
    let net: BenchmarkNetwork = network?(o.size, o.seed) ?? ReferenceMTACNN(config: config)
    for c in net.convolutions(batch: 1) { c.conv.algorithm = o.convolution }
    let (images, labels, masks) = syntheticBatch(batch: o.batch, size: o.size, seed: o.seed)
    let sgemm = measureSgemm()
    log(String(format: "sgemm 2048³: %.1f GFLOP/s on %d threads", sgemm, o.threads))
    let convFLOPs = Double(net.convolutions(batch: 1).reduce(0) { $0 + $1.conv.forwardFLOPs(for: $1.input) })
    let allFLOPs = Double(net.benchmarkFLOPs(batch: 1))

    var train: EngineBenchmarkReport.Train?
    var trainProfile: [EngineBenchmarkReport.Section] = []
    if o.train {
      let step = net.makeTrainingStep(learningRate: 1e-3)
      step(images, labels, masks)  // warm-up: buffers grow here
      let prof = StepProfiler()
      var times: [Double] = []
      var cpu: [Double] = []
      let faults0 = processCPUTime().minorFaults
      for i in 0..<o.trainSteps {
        StepProfiler.current = prof
        let c0 = processCPUTime().seconds
        let t0 = monotonicSeconds()
        step(images, labels, masks)
        let dt = monotonicSeconds() - t0
        times.append(dt)
        cpu.append(processCPUTime().seconds - c0)
        StepProfiler.current = nil
        let rate = Double(o.batch) / dt
        log(String(format: "train step %d: %.3f s (%.2f images/s), %.3f CPU s", i + 1, dt, rate, cpu[i]))
      }
      let faults = Double(processCPUTime().minorFaults - faults0) / Double(o.trainSteps)
      let med = median(times)
      let gflops = 3 * allFLOPs * Double(o.batch) / med / 1e9
      train = .init(
        stepSeconds: times, stepCPUSeconds: cpu, pageFaultsPerStep: faults,
        imagesPerSecond: Double(o.batch) / med,
        gflops: gflops, peakResidentBytes: peakResidentBytes())
      trainProfile = sections(prof, steps: o.trainSteps)
    }

    var inference: EngineBenchmarkReport.Inference?
    var inferenceProfile: [EngineBenchmarkReport.Section] = []
    if o.infer {
      net.prepareForInference()
      net.benchmarkForward(images)
      let prof = StepProfiler()
      var times: [Double] = []
      var cpu: [Double] = []
      for _ in 0..<o.inferenceRuns {
        StepProfiler.current = prof
        let c0 = processCPUTime().seconds
        let t0 = monotonicSeconds()
        net.benchmarkForward(images)
        times.append(monotonicSeconds() - t0)
        cpu.append(processCPUTime().seconds - c0)
        StepProfiler.current = nil
      }
      inferenceProfile = sections(prof, steps: o.inferenceRuns)
      let one = images.slice(0..<1)
      net.benchmarkForward(one)
      var ones: [Double] = []
      for _ in 0..<max(5, 3 * o.inferenceRuns) {
        let t0 = monotonicSeconds()
        net.benchmarkForward(one)
        ones.append((monotonicSeconds() - t0) * 1000)
      }
      inference = .init(
        batchSeconds: times, batchCPUSeconds: cpu, imagesPerSecond: Double(o.batch) / median(times),
        batch1Milliseconds: ones,
        batch1MedianMilliseconds: median(ones))
      log(
        String(
          format: "inference: %.1f images/s at batch %d, %.1f ms at batch 1", inference!.imagesPerSecond,
          o.batch,
          inference!.batch1MedianMilliseconds))
    }

    let layers = o.layers ? layerTimings(net, o, sgemm: sgemm, log: log) : []

    return EngineBenchmarkReport(
      machine: .init(
        cpu: cpuName(), cpus: Threads.available, openblas: String(cString: openblas_get_config())),
      size: o.size, batch: o.batch, threads: o.threads,
      parameters: net.store.trainableCount, forwardGFLOPPerImage: allFLOPs / 1e9,
      convolutionGFLOPPerImage: convFLOPs / 1e9, sgemmGFLOPS: sgemm, train: train, trainProfile: trainProfile,
      inference: inference, inferenceProfile: inferenceProfile, layers: layers)
  }

  /// Each convolution's forward and backward alone (best of 3 after a warm-up), as GFLOP/s and as
  /// a fraction of the sgemm peak; the first layer times only its weight gradient.
  private static func layerTimings(
    _ net: BenchmarkNetwork, _ o: EngineBenchmarkOptions, sgemm: Double, log: (String) -> Void
  ) -> [EngineBenchmarkReport.LayerTiming] {
    var layers: [EngineBenchmarkReport.LayerTiming] = []
    net.isTraining = true
    var inputs: [[Int]: Tensor] = [:]
    for (i, entry) in net.convolutions(batch: o.batch).enumerated() {
      let x = inputs[entry.input] ?? randomUniform(entry.input, seed: 7)
      inputs[entry.input] = x
      let conv = entry.conv
      let out = conv.outputShape(for: entry.input)
      let dy = randomUniform(out, seed: 8)
      let firstLayer = i == 0
      _ = conv.forward(x)
      if firstLayer { conv.backwardParameters(dy) } else { _ = conv.backward(dy) }
      var fwd: [Double] = []
      var bwd: [Double] = []
      var fwdCPU: [Double] = []
      var bwdCPU: [Double] = []
      for _ in 0..<3 {
        var c0 = processCPUTime().seconds
        var t0 = monotonicSeconds()
        _ = conv.forward(x)
        fwd.append(monotonicSeconds() - t0)
        fwdCPU.append(processCPUTime().seconds - c0)
        c0 = processCPUTime().seconds
        t0 = monotonicSeconds()
        if firstLayer { conv.backwardParameters(dy) } else { _ = conv.backward(dy) }
        bwd.append(monotonicSeconds() - t0)
        bwdCPU.append(processCPUTime().seconds - c0)
      }
      let flops = Double(conv.forwardFLOPs(for: entry.input))
      let f = flops / fwd.min()! / 1e9
      let b = (firstLayer ? 1 : 2) * flops / bwd.min()! / 1e9
      let fc = flops / max(fwdCPU.min()!, 1e-6) / 1e9
      let bc = (firstLayer ? 1 : 2) * flops / max(bwdCPU.min()!, 1e-6) / 1e9
      layers.append(
        .init(
          name: entry.name, input: entry.input, output: out, forwardMilliseconds: fwd.min()! * 1000,
          backwardMilliseconds: bwd.min()! * 1000, forwardGFLOPS: f, backwardGFLOPS: b,
          forwardFraction: f / sgemm, backwardFraction: b / sgemm, forwardGFLOPPerCPUSecond: fc,
          backwardGFLOPPerCPUSecond: bc, weightGradientOnly: firstLayer))
      log(
        String(
          format:
            "%-18@ %@ fwd %6.1f GFLOP/s (%.2f)  bwd %6.1f GFLOP/s (%.2f)  per CPU-second: fwd %5.1f bwd %5.1f",
          entry.name as NSString, "\(entry.input)" as NSString, f, f / sgemm, b, b / sgemm, fc, bc))
    }
    net.store.zeroGradients()
    return layers
  }

  /// Random images in [0, 1], labels cycling through the four classes, and masks of random
  /// discs (about a third foreground), like nucleus masks.
  public static func syntheticBatch(batch: Int, size: Int, seed: UInt64) -> (Tensor, [Int], Tensor) {
    let images = randomUniform([batch, 3, size, size], seed: seed)
    for i in 0..<images.count { images[i] = images[i] * 0.5 + 0.5 }
    let masks = Tensor(shape: [batch, 1, size, size])
    var rng = SeededGenerator(seed: seed &+ 1)
    for b in 0..<batch {
      for _ in 0..<3 {
        let cx = Float(rng.nextUnitFloat()) * Float(size)
        let cy = Float(rng.nextUnitFloat()) * Float(size)
        let r = Float(size) * (0.12 + 0.1 * rng.nextUnitFloat())
        for y in 0..<size {
          for x in 0..<size
          where (Float(x) - cx) * (Float(x) - cx) + (Float(y) - cy) * (Float(y) - cy) < r * r {
            masks[(b * size + y) * size + x] = 1
          }
        }
      }
    }
    return (images, (0..<batch).map { $0 % 4 }, masks)
  }

  static func randomUniform(_ shape: [Int], seed: UInt64) -> Tensor {
    let t = Tensor(shape: shape)
    var rng = SeededGenerator(seed: seed)
    for i in 0..<t.count { t[i] = rng.nextUnitFloat() * 2 - 1 }
    return t
  }

  /// Best of three 2048³ sgemm runs over the engine's threads, in GFLOP/s.
  public static func measureSgemm(n: Int = 2048) -> Double {
    let a = randomUniform([n, n], seed: 1)
    let b = randomUniform([n, n], seed: 2)
    let c = Tensor(shape: [n, n])
    var best = Double.infinity
    for _ in 0..<4 {
      let t0 = monotonicSeconds()
      parallelSgemm(
        transA: false, transB: false, m: n, n: n, k: n, a: a.data, lda: n, b: b.data, ldb: n, c: c.data,
        ldc: n)
      best = min(best, monotonicSeconds() - t0)
    }
    return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
  }

  static func sections(_ p: StepProfiler, steps: Int) -> [EngineBenchmarkReport.Section] {
    let total = max(p.total, 1e-12)
    let totalCPU = max(p.totalCPU, 1e-12)
    let n = Double(steps)
    return p.sections.sorted { $0.cpuSeconds > $1.cpuSeconds }.map {
      .init(
        name: $0.name, millisecondsPerStep: $0.seconds / n * 1000, percent: 100 * $0.seconds / total,
        cpuMillisecondsPerStep: $0.cpuSeconds / n * 1000, cpuPercent: 100 * $0.cpuSeconds / totalCPU)
    }
  }

  public static func median(_ v: [Double]) -> Double {
    let s = v.sorted()
    if s.isEmpty { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
  }

  static func cpuName() -> String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
    for line in text.split(separator: "\n") where line.hasPrefix("model name") {
      return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
        ?? "unknown"
    }
    return "unknown"
  }
}
