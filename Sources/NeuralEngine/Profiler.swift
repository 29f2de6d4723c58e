import Dispatch

/// Wall-clock and CPU time per named section of a step, for the benchmark's profile. Off unless
/// a profiler is installed; then each `profile` call costs two clock reads and two getrusage
/// calls (about 2 µs). Sections are timed on
/// the calling thread (the layers parallelise inside them), so they add up to the step.
public final class StepProfiler: @unchecked Sendable {
  /// Wall seconds, CPU seconds (all threads) and calls per section, in first-seen order.
  public private(set) var sections: [(name: String, seconds: Double, cpuSeconds: Double, calls: Int)] = []
  private var index: [String: Int] = [:]

  public init() {}

  nonisolated(unsafe) public static var current: StepProfiler?

  func add(_ name: String, _ seconds: Double, _ cpu: Double) {
    if let i = index[name] {
      sections[i].seconds += seconds
      sections[i].cpuSeconds += cpu
      sections[i].calls += 1
    } else {
      index[name] = sections.count
      sections.append((name, seconds, cpu, 1))
    }
  }

  public func reset() {
    sections = []
    index = [:]
  }

  public var total: Double { sections.reduce(0) { $0 + $1.seconds } }
  public var totalCPU: Double { sections.reduce(0) { $0 + $1.cpuSeconds } }
}

/// Monotonic seconds.
@inline(__always)
public func monotonicSeconds() -> Double {
  Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
}

/// Runs `body`, charging its time to `section` when a profiler is installed.
@inline(__always)
public func profile<T>(_ section: @autoclosure () -> String, _ body: () -> T) -> T {
  guard let p = StepProfiler.current else { return body() }
  let c0 = processCPUTime().seconds
  let t0 = monotonicSeconds()
  let r = body()
  p.add(section(), monotonicSeconds() - t0, processCPUTime().seconds - c0)
  return r
}
