import Agreement
import ArgumentParser
import Benchmarks
import Foundation

/// `blastview bench agreement`: the agreement statistics at the scale of issue 6's bar —
/// 100,000 two-rater ratings over 4 classes, every statistic but the bootstrap in 50 ms or
/// less, a 2,000-sample bootstrap in 1 s or less. Run it from a release build.
struct BenchAgreementCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "agreement",
    abstract: "Time the agreement statistics on seeded synthetic ratings.")

  @Option(help: "Items (each rated by two raters).") var items = 100_000
  @Option(help: "Categories.") var categories = 4
  @Option(help: "Repetitions of each timing; the median is reported.") var repeats = 21
  @Option(help: "Bootstrap resamples.") var bootstrap = 2000
  @Option(help: "Seed of the synthetic ratings.") var seed: UInt64 = 2024
  @Option(help: "Also write the ratings as a two-column CSV of codes (a,b) for the Python baseline.")
  var writeCodes: String?
  @Flag(help: "Print JSON.") var json = false

  func validate() throws {
    guard items >= 2, categories >= 2, repeats >= 1, bootstrap >= 1 else {
      throw ValidationError("items and categories must be at least 2, repeats and bootstrap at least 1")
    }
  }

  func run() throws {
    var o = AgreementBenchmark.Options()
    o.items = items
    o.categories = categories
    o.repeats = repeats
    o.bootstrap = bootstrap
    o.seed = seed
    let r = AgreementBenchmark.run(o)
    if let writeCodes {
      var text = "a,b\n"
      for i in 0..<items { text += "\(r.codes[2 * i]),\(r.codes[2 * i + 1])\n" }
      try text.write(toFile: writeCodes, atomically: true, encoding: .utf8)
    }
    if json {
      let o = AgreeJSON.object(
        [
          ("items", .int(r.items)), ("categories", .int(r.categories)), ("repeats", .int(r.repeats)),
          ("cores", .int(r.cores)), ("kappa", .number(r.kappa)),
          (
            "timings",
            .array(
              r.timings.map { t in
                .object([
                  ("name", .string(t.name)), ("median_seconds", .number(t.seconds)),
                  ("ratio_to_read", .number(t.seconds / r.read)), ("budget_seconds", .number(t.budget)),
                ])
              })
          ),
        ])
      print(o.render())
    } else {
      print(
        "Agreement benchmark: \(r.items) items × 2 raters, \(r.categories) classes, kappa \(AgreeOutput.fixed(r.kappa)), "
          + "median of \(r.repeats) runs (\(r.bootstrapRepeats) for the bootstrap), \(r.cores) cores")
      for t in r.timings {
        let ms = String(format: "%9.3f ms", t.seconds * 1000)
        let ratio = String(format: "%8.1f× read", t.seconds / r.read)
        let budget =
          t.budget.map {
            String(format: "  (budget %.0f ms: %@)", $0 * 1000, t.seconds <= $0 ? "met" : "MISSED")
          }
          ?? ""
        print("  \(t.description.padding(toLength: 58, withPad: " ", startingAt: 0)) \(ms) \(ratio)\(budget)")
      }
    }
  }
}
