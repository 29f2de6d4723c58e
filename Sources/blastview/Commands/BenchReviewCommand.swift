import ArgumentParser
import Benchmarks
import Foundation

/// `blastview bench review`: the review app's frame times (`ReviewBenchmark` says what is
/// measured and against which baselines).
struct BenchReviewCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "review",
    abstract: "Time the review app's frames on a workspace (e.g. one built by bench store --keep-workspace).")

  @Option(help: ArgumentHelp("The workspace to browse (100,000 cases for issue 7's bar).", valueName: "dir"))
  var workspace: String

  @Option(help: "Rater name to browse as.") var rater = "bench-reviewer"
  @Option(help: "Terminal size as COLUMNSxROWS.") var size = "160x48"
  @Option(help: "Cell size in pixels as WxH.") var cell = "9x19"
  @Option(help: "Keypresses and brush segments to time.") var repeats = 300
  @Flag(help: "Print JSON.") var json = false

  func run() throws {
    let s = size.split(separator: "x").compactMap { Int($0) }
    let c = cell.split(separator: "x").compactMap { Int($0) }
    guard s.count == 2, c.count == 2, s[0] >= 80, s[1] >= 24, repeats >= 10 else {
      throw ValidationError("--size at least 80x24, --cell WxH, --repeats >= 10")
    }
    var o = ReviewBenchmark.Options(workspace: workspace)
    o.rater = rater
    (o.columns, o.rows, o.cellWidth, o.cellHeight) = (s[0], s[1], c[0], c[1])
    o.repeats = repeats
    let r = try ReviewBenchmark.run(o)
    if json {
      let data = try JSONSerialization.data(
        withJSONObject: r.results, options: [.sortedKeys, .prettyPrinted])
      print(String(decoding: data, as: UTF8.self))
    } else {
      print("blastview bench review: \(o.columns)x\(o.rows) cells of \(o.cellWidth)x\(o.cellHeight) px")
      for l in r.lines { print("  " + l) }
    }
  }
}
