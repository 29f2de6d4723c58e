import Dispatch

/// A percentile bootstrap confidence interval.
public struct BootstrapInterval: Sendable, Equatable {
  /// What was resampled: `cohen.kappa`, `weighted.kappa` or `fleiss.kappa`.
  public let statistic: String
  public let samples: Int
  public let seed: UInt64
  /// The 2.5th and 97.5th percentiles of the defined replicates (linear interpolation
  /// between order statistics, numpy's default).
  public let ci95: Result<Interval, Undefined>
  /// Replicates where the statistic was undefined (e.g. every resampled item in one
  /// category); they are left out of the percentiles.
  public let undefinedReplicates: Int
}

/// Percentile bootstrap of Cohen's kappa (and, with `weights`, of the weighted kappa on
/// the same resamples) over the items of a confusion matrix.
///
/// Items are resampled with replacement, `samples` times; replicate b draws its n indices
/// as `below32(n)` of `Xoshiro256StarStar(seed: seed, stream: b)`. Items are taken in cell order (row-major),
/// so the interval depends only on the table and the seed, not on the order of the input.
///
/// - Parameter threads: worker threads (default: the online cores, or `BLASTVIEW_THREADS`);
///   the result does not depend on it.
public func bootstrapKappa(
  _ table: ConfusionMatrix, weights: AgreementWeights? = nil, samples: Int, seed: UInt64,
  threads: Int? = nil
) -> [BootstrapInterval] {
  let k = table.k
  var sets: [(String, [Double])] = [("cohen.kappa", AgreementWeights.identity(k).values)]
  if let weights { sets.append(("weighted.kappa", weights.values)) }
  let n = table.n
  guard n > 0, samples > 0 else {
    let reason = samples > 0 ? "no items were labelled by both raters" : "no bootstrap samples requested"
    return sets.map {
      BootstrapInterval(
        statistic: $0.0, samples: samples, seed: seed, ci95: .failure(Undefined("bootstrap_ci95", reason)),
        undefinedReplicates: 0)
    }
  }
  var expanded = [UInt32]()
  expanded.reserveCapacity(n)
  for c in 0..<(k * k) {
    expanded.append(contentsOf: repeatElement(UInt32(c), count: table.counts[c]))
  }
  let weightSets = sets.map(\.1)
  let replicates = resample(
    expanded, patterns: k * k, samples: samples, seed: seed, outputs: sets.count, threads: threads
  ) {
    counts, out in
    var rows = [Double](repeating: 0, count: k)
    var cols = [Double](repeating: 0, count: k)
    rows.withUnsafeMutableBufferPointer { rows in
      cols.withUnsafeMutableBufferPointer { cols in
        for (s, w) in weightSets.enumerated() {
          out[s] = w.withUnsafeBufferPointer { w in
            kappaValue(counts: counts, k: k, weights: w, rows: rows, cols: cols)
          }
        }
      }
    }
  }
  return sets.enumerated().map { s, set in
    percentileInterval(replicates[s], statistic: set.0, samples: samples, seed: seed)
  }
}

/// Percentile bootstrap of Fleiss' kappa over items (complete data), resampling items.
/// Items are taken sorted by their count pattern, so the interval does not depend on input order.
public func bootstrapFleiss(_ data: CategoryCounts, samples: Int, seed: UInt64, threads: Int? = nil)
  -> BootstrapInterval
{
  let q = data.q
  // Merge identical patterns so a replicate's statistic costs O(patterns · q), not O(n · q).
  var index: [[Int32]: Int] = [:]
  var patterns: [[Int32]] = []
  var mult: [Int] = []
  for p in 0..<data.patterns where data.multiplicity[p] > 0 {
    let row = Array(data.counts[(p * q)..<((p + 1) * q)])
    if let i = index[row] {
      mult[i] += data.multiplicity[p]
    } else {
      index[row] = patterns.count
      patterns.append(row)
      mult.append(data.multiplicity[p])
    }
  }
  let order = patterns.indices.sorted { patterns[$0].lexicographicallyPrecedes(patterns[$1]) }
  patterns = order.map { patterns[$0] }
  mult = order.map { mult[$0] }
  let n = mult.reduce(0, +)
  guard n > 0, samples > 0, let m = patterns.first.map({ Int($0.reduce(0, +)) }), m >= 2,
    patterns.allSatisfy({ Int($0.reduce(0, +)) == m })
  else {
    let reason =
      samples > 0 ? "needs items rated by every rater (two or more)" : "no bootstrap samples requested"
    return BootstrapInterval(
      statistic: "fleiss.kappa", samples: samples, seed: seed,
      ci95: .failure(Undefined("bootstrap_ci95", reason)), undefinedReplicates: 0)
  }
  var expanded = [UInt32]()
  expanded.reserveCapacity(n)
  for (p, c) in mult.enumerated() { expanded.append(contentsOf: repeatElement(UInt32(p), count: c)) }
  let agreement = patterns.map { row in
    Double(row.reduce(0) { $0 + Int($1) * (Int($1) - 1) }) / Double(m * (m - 1))
  }
  let flat = patterns.flatMap { $0 }
  let replicates = resample(
    expanded, patterns: patterns.count, samples: samples, seed: seed, outputs: 1, threads: threads
  ) {
    counts, out in
    var p = [Double](repeating: 0, count: q)
    var pbar = 0.0
    for i in 0..<counts.count where counts[i] > 0 {
      let w = Double(counts[i])
      pbar += w * agreement[i]
      for c in 0..<q { p[c] += w * Double(flat[i * q + c]) }
    }
    let total = Double(n)
    pbar /= total
    var pe = 0.0
    for c in 0..<q {
      let x = p[c] / (total * Double(m))
      pe += x * x
    }
    out[0] = 1 - pe > 1e-12 ? (pbar - pe) / (1 - pe) : nil
  }
  return percentileInterval(replicates[0], statistic: "fleiss.kappa", samples: samples, seed: seed)
}

/// The bootstrap engine: `samples` replicates, each drawing `expanded.count` items with
/// replacement and counting how often each pattern was drawn; `statistic` turns the counts
/// into `outputs` values (nil = undefined). Replicates run in parallel on the available
/// cores; each has its own random stream, so the result does not depend on scheduling.
func resample(
  _ expanded: [UInt32], patterns: Int, samples: Int, seed: UInt64, outputs: Int, threads: Int? = nil,
  statistic: @escaping @Sendable (UnsafeBufferPointer<Int>, inout [Double?]) -> Void
) -> [[Double?]] {
  let results = ReplicateStore(outputs: outputs, samples: samples)
  let workers = max(1, min(samples, threads ?? System.cores))
  precondition(expanded.count < Int(Int32.max), "the bootstrap resamples fewer than 2^31 items")
  let n = UInt32(expanded.count)
  DispatchQueue.concurrentPerform(iterations: workers) { worker in
    var counts = [Int](repeating: 0, count: patterns)
    // Two interleaved histograms: when consecutive draws hit the same pattern their
    // increments go to different words and do not wait on each other.
    var lanes = [Int32](repeating: 0, count: 2 * patterns)
    var out = [Double?](repeating: nil, count: outputs)
    expanded.withUnsafeBufferPointer { items in
      var b = worker
      while b < samples {
        var rng = Xoshiro256StarStar(seed: seed, stream: UInt64(b))
        lanes.withUnsafeMutableBufferPointer { lanes in
          for i in 0..<lanes.count { lanes[i] = 0 }
          let p = patterns
          var left = items.count
          while left >= 2 {
            let (i, j) = rng.pairBelow32(n)
            lanes[Int(items[Int(i)])] &+= 1
            lanes[p + Int(items[Int(j)])] &+= 1
            left -= 2
          }
          if left == 1 { lanes[Int(items[Int(rng.below32(n))])] &+= 1 }
          counts.withUnsafeMutableBufferPointer { counts in
            for i in 0..<p { counts[i] = Int(lanes[i]) + Int(lanes[p + i]) }
          }
        }
        counts.withUnsafeBufferPointer { statistic($0, &out) }
        results.store(b, out)
        b += workers
      }
    }
  }
  return results.values
}

/// Replicate values written by the workers, each to its own slots.
private final class ReplicateStore: @unchecked Sendable {
  private var storage: UnsafeMutableBufferPointer<Double>
  private var defined: UnsafeMutableBufferPointer<Bool>
  let outputs: Int
  let samples: Int

  init(outputs: Int, samples: Int) {
    self.outputs = outputs
    self.samples = samples
    storage = .allocate(capacity: outputs * samples)
    storage.initialize(repeating: 0)
    defined = .allocate(capacity: outputs * samples)
    defined.initialize(repeating: false)
  }

  deinit {
    storage.deallocate()
    defined.deallocate()
  }

  /// Safe without a lock: replicate b is written by exactly one worker.
  func store(_ b: Int, _ values: [Double?]) {
    for (s, v) in values.enumerated() {
      storage[s * samples + b] = v ?? 0
      defined[s * samples + b] = v != nil
    }
  }

  var values: [[Double?]] {
    (0..<outputs).map { s in (0..<samples).map { defined[s * samples + $0] ? storage[s * samples + $0] : nil }
    }
  }
}

enum System {
  /// Cores to use; `BLASTVIEW_THREADS` overrides.
  static var cores: Int {
    if let s = getenvString("BLASTVIEW_THREADS"), let n = Int(s), n > 0 { return n }
    return activeProcessorCount()
  }
}

/// Percentiles 2.5 and 97.5 of the defined replicates.
func percentileInterval(_ values: [Double?], statistic: String, samples: Int, seed: UInt64)
  -> BootstrapInterval
{
  let defined = values.compactMap { $0 }.sorted()
  let undefinedCount = values.count - defined.count
  guard defined.count >= 2 else {
    return BootstrapInterval(
      statistic: statistic, samples: samples, seed: seed,
      ci95: .failure(
        Undefined("bootstrap_ci95", "fewer than two bootstrap replicates had a defined \(statistic)")),
      undefinedReplicates: undefinedCount)
  }
  return BootstrapInterval(
    statistic: statistic, samples: samples, seed: seed,
    ci95: .success(Interval(quantile(defined, 0.025), quantile(defined, 0.975))),
    undefinedReplicates: undefinedCount)
}

/// Quantile of sorted values by linear interpolation (Hyndman & Fan type 7, numpy's default).
public func quantile(_ sorted: [Double], _ p: Double) -> Double {
  precondition(!sorted.isEmpty && p >= 0 && p <= 1)
  let h = Double(sorted.count - 1) * p
  let lo = Int(h.rounded(.down))
  let hi = min(lo + 1, sorted.count - 1)
  return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
}
