import COpenBLAS
import Dispatch

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The engine's one thread setting (`--threads`).
///
/// The engine splits its work itself: a batch is cut into `count` fixed chunks (by image, or by
/// rows of a GEMM) and each chunk runs on its own thread, calling OpenBLAS single-threaded. So
/// OpenBLAS is kept at one thread, nothing nests, and every reduction adds its partial results
/// in chunk order: results are bit-for-bit deterministic for a given thread count and seed.
public enum Threads {
  nonisolated(unsafe) private static var current: Int = {
    openblas_set_num_threads(1)
    return Threads.available
  }()

  /// Number of CPUs this process may run on.
  public static var available: Int {
    #if canImport(Glibc)
      let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    #else
      let n = sysconf(_SC_NPROCESSORS_ONLN)
    #endif
    return max(1, Int(n))
  }

  /// A thread count for the current task only (tests, benchmarks comparing counts), set with
  /// `Threads.$scoped.withValue(n) { ... }`; it wins over `set(_:)`.
  @TaskLocal public static var scoped: Int?

  /// Threads the engine uses (default: the number of CPUs).
  public static var count: Int { max(1, scoped ?? current) }

  /// Pieces a parallel operation is cut into: 4 per thread, so that threads which finish early
  /// (or are not delayed by other processes) take over the rest. Reductions add one partial per
  /// piece, in piece order, so results depend only on this number, i.e. on the thread count.
  public static var chunks: Int {
    let t = count
    return t == 1 ? 1 : 4 * t
  }

  /// Sets the thread count. Call it before running a network, not while one runs.
  public static func set(_ n: Int) {
    precondition(n >= 1, "thread count must be at least 1, got \(n)")
    current = n
    openblas_set_num_threads(1)
  }
}

/// Makes a non-Sendable value crossable into a concurrent closure. Used only for the body of
/// `parallelFor`, whose iterations touch disjoint memory by construction.
private struct UncheckedSendable<T>: @unchecked Sendable {
  let value: T
}

/// Hands out indices 0, 1, 2, ... to the workers of one `parallelFor`.
private final class IndexDispenser: @unchecked Sendable {
  private var next = 0
  private var mutex = pthread_mutex_t()

  init() { pthread_mutex_init(&mutex, nil) }
  deinit { pthread_mutex_destroy(&mutex) }

  func take(below count: Int) -> Int? {
    pthread_mutex_lock(&mutex)
    defer { pthread_mutex_unlock(&mutex) }
    guard next < count else { return nil }
    next += 1
    return next - 1
  }
}

/// Runs `body(i)` for i in 0..<count on at most `Threads.count` threads. The workers take
/// indices as they finish, so a thread that the machine's other load delays does not hold up
/// the rest (work is split into more pieces than threads; see `Threads.chunks`). Each iteration
/// must touch memory no other iteration writes. With one thread the loop runs inline, in order.
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
  if count <= 0 { return }
  let workers = min(Threads.count, count)
  if workers == 1 {
    for i in 0..<count { body(i) }
    return
  }
  withoutActuallyEscaping(body) { escaping in
    let box = UncheckedSendable(value: escaping)
    let dispenser = IndexDispenser()
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
      while let i = dispenser.take(below: count) { box.value(i) }
    }
  }
}

/// Splits `total` items into at most `parts` contiguous ranges of near-equal size, in order.
public func chunkRanges(_ total: Int, parts: Int) -> [Range<Int>] {
  let p = max(1, min(parts, total))
  if total <= 0 { return [] }
  var out: [Range<Int>] = []
  out.reserveCapacity(p)
  let base = total / p
  let extra = total % p
  var start = 0
  for i in 0..<p {
    let len = base + (i < extra ? 1 : 0)
    out.append(start..<(start + len))
    start += len
  }
  return out
}

/// Runs `body(range)` over `Threads.chunks` contiguous chunks of 0..<total (fewer when `total`
/// is small). The chunk boundaries depend only on `total` and the thread count.
public func parallelChunks(_ total: Int, _ body: (Range<Int>) -> Void) {
  let ranges = chunkRanges(total, parts: Threads.chunks)
  parallelFor(ranges.count) { body(ranges[$0]) }
}

/// Runs `body(chunk, range)` over `Threads.chunks` chunks (or `parts`), giving the chunk index
/// too, for work that keeps one partial result or scratch buffer per chunk.
public func parallelChunksIndexed(_ total: Int, parts: Int? = nil, _ body: (Int, Range<Int>) -> Void) {
  let ranges = chunkRanges(total, parts: parts ?? Threads.chunks)
  parallelFor(ranges.count) { body($0, ranges[$0]) }
}

/// Peak resident set size of this process, in bytes (getrusage).
public func peakResidentBytes() -> Int {
  var usage = rusage()
  #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
  #else
    getrusage(RUSAGE_SELF, &usage)
  #endif
  #if os(Linux)
    return Int(usage.ru_maxrss) * 1024
  #else
    return Int(usage.ru_maxrss)
  #endif
}

/// CPU time (user + system) this process has used, in seconds, and its minor page faults.
/// On a shared machine, CPU time per step measures the work a step costs whatever else runs.
public func processCPUTime() -> (seconds: Double, minorFaults: Int) {
  var usage = rusage()
  #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
  #else
    getrusage(RUSAGE_SELF, &usage)
  #endif
  let u = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
  let s = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
  return (u + s, Int(usage.ru_minflt))
}
