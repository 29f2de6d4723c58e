import ArgumentParser
import Benchmarks
import Foundation

/// `blastview bench render`: the terminal layer's frame and thumbnail costs (`RenderBenchmark`
/// says what is measured).
struct BenchRenderCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "render",
    abstract: "Time frame rendering and measure bytes per page of thumbnails.")

  @Option(help: "Terminal size as COLUMNSxROWS.") var size = "160x48"
  @Option(help: "Cell size in pixels as WxH.") var cell = "9x19"
  @Option(help: "Repetitions of each timing.") var repeats = 200
  @Option(help: "Folder of images for thumbnails (default: SampleData/bccd/JPEGImages).")
  var images: String?
  @Flag(help: "Print JSON.") var json = false

  func run() throws {
    let s = size.split(separator: "x").compactMap { Int($0) }
    let c = cell.split(separator: "x").compactMap { Int($0) }
    guard s.count == 2, c.count == 2, s[0] >= 40, s[1] >= 12, c[0] > 0, c[1] > 0, repeats >= 5 else {
      throw ValidationError("--size COLUMNSxROWS (at least 40x12), --cell WxH, --repeats >= 5")
    }
    var o = RenderBenchmark.Options()
    (o.columns, o.rows, o.cellWidth, o.cellHeight) = (s[0], s[1], c[0], c[1])
    o.repeats = repeats
    o.images = images
    let r = RenderBenchmark.run(o)
    if json {
      let data = try JSONSerialization.data(
        withJSONObject: r.results, options: [.sortedKeys, .prettyPrinted])
      print(String(decoding: data, as: UTF8.self))
    } else {
      print(
        "blastview bench render: \(o.columns)x\(o.rows) cells of \(o.cellWidth)x\(o.cellHeight) px, \(r.sourceCount) source images"
      )
      for l in r.lines { print("  " + l) }
    }
  }
}
