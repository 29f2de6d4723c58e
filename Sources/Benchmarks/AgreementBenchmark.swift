import Agreement
import Dispatch
import Foundation

/// `blastview bench agreement`: the agreement statistics at the scale of issue 6's bar —
/// 100,000 two-rater ratings over 4 classes, every statistic but the bootstrap in 50 ms or
/// less, a 2,000-sample bootstrap in 1 s or less — beside a same-run baseline (one pass over
/// the codes). Run it from a release build.
public enum AgreementBenchmark {
  public struct Options: Sendable {
    /// Items, each rated by two raters.
    public var items = 100_000
    public var categories = 4
    /// Repetitions of each timing; the median is reported.
    public var repeats = 21
    public var bootstrap = 2000
    /// Seed of the synthetic ratings.
    public var seed: UInt64 = 2024

    public init() {}
  }

  /// One timed step: its median wall time, and the budget it must meet when it has one.
  public struct Timing: Sendable {
    public var name: String
    public var description: String
    public var seconds: Double
    public var budget: Double?
  }

  public struct Report: Sendable {
    public var items: Int
    public var categories: Int
    public var repeats: Int
    /// Repetitions of the bootstrap timings (fewer than `repeats`: each takes long).
    public var bootstrapRepeats: Int
    public var cores: Int
    /// Cohen's kappa of the synthetic ratings (NaN if undefined), to show the work was done.
    public var kappa: Double
    /// The baseline first (`read`), then every statistic.
    public var timings: [Timing]
    /// The two raters' codes, item by item (a, b, a, b, ...), for the Python baseline.
    public var codes: [Int32]

    /// The baseline's time.
    public var read: Double { timings[0].seconds }
  }

  public static func run(_ o: Options) -> Report {
    precondition(o.items >= 2 && o.categories >= 2 && o.repeats >= 1 && o.bootstrap >= 1)
    // Synthetic ratings: a true class with prevalences 20/30/30/20 % (uniform beyond 4
    // classes); each rater gives it with probability 0.8, else a uniform class.
    var rng = Xoshiro256StarStar(seed: o.seed)
    let k = o.categories
    let items = o.items
    let repeats = o.repeats
    var codes = [Int32](repeating: 0, count: 2 * items)
    for i in 0..<items {
      let u = rng.below(10)
      let truth = k == 4 ? Int32(u < 2 ? 0 : u < 5 ? 1 : u < 8 ? 2 : 3) : Int32(rng.below(UInt64(k)))
      for r in 0..<2 { codes[2 * i + r] = rng.below(10) < 8 ? truth : Int32(rng.below(UInt64(k))) }
    }
    let names = k == 4 ? ["Benign", "Early-B", "Pre-B", "Pro-B"] : (0..<k).map { "c\($0)" }
    let itemNames = (0..<items).map { "case\($0)" }
    let table = RatingTable(categories: names, raters: ["A", "B"], items: itemNames, codes: codes)
    let long = (0..<items).flatMap { i in
      [
        LongRating(item: itemNames[i], rater: "A", label: names[Int(codes[2 * i])]),
        LongRating(item: itemNames[i], rater: "B", label: names[Int(codes[2 * i + 1])]),
      ]
    }
    // The clinical matrix needs the all4 names and linear weights k >= 2: both hold here.
    let weights =
      k == 4 ? try! AgreementWeights.clinical(categories: names) : try! AgreementWeights.linear(k).get()
    let options = AgreementOptions(weights: weights)

    // Baseline: one pass reading the code arrays (the least any statistic must do).
    var sink = 0
    let read = median(repeats) {
      var s = 0
      codes.withUnsafeBufferPointer { for c in $0 { s &+= Int(c) } }
      sink &+= s
    }
    var report: AgreementReport? = nil
    let all = median(repeats) { report = AgreementReport(table, options: options) }
    let kappa = report?.twoRater?.cohen.value?.kappa ?? .nan
    let confusionOnly = median(repeats) { sink &+= table.confusion(0, 1).n }
    let fromLong = median(max(3, repeats / 4)) {
      // The rows were made from `names`, so every label is a category.
      let t = try! RatingTable(long: long, categories: names)
      report = AgreementReport(t, options: options)
    }
    // Three raters over the same items (the third agrees with the first 80 % of the time).
    var codes3 = [Int32](repeating: 0, count: 3 * items)
    for i in 0..<items {
      codes3[3 * i] = codes[2 * i]
      codes3[3 * i + 1] = codes[2 * i + 1]
      codes3[3 * i + 2] = rng.below(10) < 8 ? codes[2 * i] : Int32(rng.below(UInt64(k)))
    }
    let table3 = RatingTable(categories: names, raters: ["A", "B", "C"], items: itemNames, codes: codes3)
    let three = median(repeats) { report = AgreementReport(table3, options: options) }
    let matrix = table.confusion(0, 1)
    let boots = max(3, min(repeats, 5))
    let bootAll = median(boots) {
      sink &+= bootstrapKappa(matrix, weights: weights, samples: o.bootstrap, seed: 7).count
    }
    let bootOne = median(boots) {
      sink &+= bootstrapKappa(matrix, weights: weights, samples: o.bootstrap, seed: 7, threads: 1).count
    }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let timings = [
      Timing(name: "read", description: "baseline: one pass over the 2 × \(items) codes", seconds: read),
      Timing(name: "confusion", description: "confusion matrix alone", seconds: confusionOnly),
      Timing(
        name: "all_statistics", description: "every statistic (report from codes)", seconds: all,
        budget: 0.050),
      Timing(
        name: "all_three_raters", description: "every statistic, 3 raters (report from codes)",
        seconds: three,
        budget: 0.050),
      Timing(name: "all_from_strings", description: "long string rows → table → report", seconds: fromLong),
      Timing(
        name: "bootstrap",
        description: "\(o.bootstrap)-sample bootstrap, kappa + weighted, \(cores) threads", seconds: bootAll,
        budget: 1.0),
      Timing(
        name: "bootstrap_1_thread", description: "\(o.bootstrap)-sample bootstrap, 1 thread", seconds: bootOne
      ),
    ]
    keepAlive(sink)
    return Report(
      items: items, categories: k, repeats: repeats, bootstrapRepeats: boots, cores: cores, kappa: kappa,
      timings: timings, codes: codes)
  }

  /// Median wall time of `n` runs, in seconds.
  static func median(_ n: Int, _ body: () -> Void) -> Double {
    var times: [Double] = []
    for _ in 0..<n {
      let start = DispatchTime.now().uptimeNanoseconds
      body()
      times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    times.sort()
    return times[times.count / 2]
  }
}

extension AgreementBenchmark.Timing {
  init(name: String, description: String, seconds: Double) {
    self.init(name: name, description: description, seconds: seconds, budget: nil)
  }
}

/// Uses a value so the optimiser cannot drop the work that computed it.
@_optimize(none) func keepAlive(_ value: Int) {}
