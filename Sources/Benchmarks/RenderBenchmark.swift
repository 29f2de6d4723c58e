import Dispatch
import Foundation
import Imaging
import Terminal

/// `blastview bench render`: the terminal layer's costs for issue 7 — a redrawn text frame
/// through the headless renderer, bytes written per page of thumbnails cold (encoded now) and
/// warm (from the cache), and the sixel palette size against encode time and bytes. Images
/// come from SampleData (real smears) when present, else the built-in test patterns.
public enum RenderBenchmark {
  public struct Options: Sendable {
    public var columns = 160
    public var rows = 48
    public var cellWidth = 9
    public var cellHeight = 19
    /// Repetitions of each timing.
    public var repeats = 200
    /// Folder of images for thumbnails (nil: SampleData/bccd/JPEGImages).
    public var images: String?

    public init() {}
  }

  /// The figures by name (milliseconds and bytes), one sentence per measurement, and how many
  /// source images the pages were made of.
  public struct Report: Sendable {
    public var results: [String: Double]
    public var lines: [String]
    public var sourceCount: Int
  }

  public static func run(_ o: Options) -> Report {
    precondition(o.columns >= 40 && o.rows >= 12 && o.cellWidth > 0 && o.cellHeight > 0 && o.repeats >= 5)
    let (columns, rows, cw, ch) = (o.columns, o.rows, o.cellWidth, o.cellHeight)
    let repeats = o.repeats
    let theme = Theme.dark
    var results: [String: Double] = [:]
    var lines: [String] = []

    // 1. Text frames: a browser-like list, one selection moved per "keypress".
    func listFrame(selected: Int) -> Frame {
      var f = Frame(rows: rows, columns: columns)
      f.put(
        " workspace · rater · session · model · 100000 cases", row: 0, column: 0, style: Style(.header),
        width: columns)
      for r in 1..<(rows - 1) {
        let style = r == selected ? Style(.selection) : Style(.text)
        f.put(
          String(format: " case-%06d.png   B 0.93  mine: E  ⚑ unreviewed", r * 37), row: r, column: 0,
          style: style, width: columns)
      }
      f.put(" status", row: rows - 1, column: 0, style: Style(.status), width: columns)
      return f
    }
    let text = HeadlessRenderer(
      theme: theme, painter: ImagePainter(backend: .none, cellWidth: cw, cellHeight: ch))
    _ = text.render(listFrame(selected: 1))
    var keyTimes: [Double] = []
    var keyBytes = 0
    for i in 0..<repeats {
      let start = DispatchTime.now().uptimeNanoseconds
      let frame = listFrame(selected: 1 + (i % (rows - 2)))
      let bytes = text.render(frame)
      keyTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
      keyBytes += bytes.count
    }
    // Baseline: building the frame alone (what any view must do).
    var buildTimes: [Double] = []
    for i in 0..<repeats {
      let start = DispatchTime.now().uptimeNanoseconds
      _ = listFrame(selected: 1 + (i % (rows - 2)))
      buildTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    let keyMedian = percentile(keyTimes, 0.5)
    let keyP99 = percentile(keyTimes, 0.99)
    let buildMedian = percentile(buildTimes, 0.5)
    results["textFrameMedianMs"] = keyMedian
    results["textFrameP99Ms"] = keyP99
    results["textFrameBytes"] = Double(keyBytes) / Double(repeats)
    results["frameBuildMedianMs"] = buildMedian
    lines.append(
      String(
        format:
          "text frame %dx%d, selection moved: build %.3f ms (baseline 1x); build + diff render median %.3f ms (%.1fx), p99 %.3f ms; %.0f bytes per frame",
        columns, rows, buildMedian, keyMedian, keyMedian / max(buildMedian, 1e-9), keyP99,
        Double(keyBytes) / Double(repeats)))

    // 2. Thumbnail pages.
    let sources = loadSources(o.images)
    let tileColumns = 16
    let tileRows = 7
    let across = columns / tileColumns
    let down = (rows - 2) / tileRows
    let perPage = across * down
    func page(_ p: Int) -> Frame {
      var f = Frame(rows: rows, columns: columns)
      for slot in 0..<perPage {
        let index = (p * perPage + slot) % sources.count
        let rect = CellRect(
          row: 1 + (slot / across) * tileRows, column: (slot % across) * tileColumns, rows: tileRows - 1,
          columns: tileColumns - 1)
        f.place(ImagePlacement(key: "bench:\(p):\(slot)", rect: rect, source: sources[index]))
      }
      return f
    }
    for backend in [
      GraphicsBackend.sixel(colors: SixelEncoder.defaultColors), .halfBlocks(trueColor: true),
      .halfBlocks(trueColor: false),
    ] {
      let renderer = HeadlessRenderer(
        theme: theme, painter: ImagePainter(backend: backend, cellWidth: cw, cellHeight: ch))
      _ = renderer.render(Frame(rows: rows, columns: columns))
      var t0 = DispatchTime.now().uptimeNanoseconds
      let cold = renderer.render(page(0)).count
      let coldMs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
      _ = renderer.render(page(1))
      t0 = DispatchTime.now().uptimeNanoseconds
      let warm = renderer.render(page(0)).count
      let warmMs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
      let unchanged = renderer.render(page(0)).count
      let name = "\(backend)"
      results["pageCold[\(name)]Bytes"] = Double(cold)
      results["pageWarm[\(name)]Bytes"] = Double(warm)
      results["pageCold[\(name)]Ms"] = coldMs
      results["pageWarm[\(name)]Ms"] = warmMs
      lines.append(
        String(
          format:
            "page of %d thumbnails, %@: cold %d bytes in %.1f ms; warm (cached, after paging away and back) %d bytes in %.2f ms (%.0fx faster); unchanged page %d bytes",
          perPage, name, cold, coldMs, warm, warmMs, coldMs / max(warmMs, 1e-9), unchanged))
    }

    // 3. Sixel palette size for a 224×224 smear.
    sixelPalettes(sources[0], repeats: repeats, results: &results, lines: &lines)

    return Report(results: results, lines: lines, sourceCount: sources.count)
  }

  /// Encode time and bytes of a 224×224 smear in sixel at 256 down to 16 colours.
  static func sixelPalettes(
    _ source: ImageSource, repeats: Int, results: inout [String: Double], lines: inout [String]
  ) {
    let smear = source.render(224, 224) ?? TestPattern.image(index: 0, width: 224, height: 224)
    var reference = 0.0
    for colours in [256, 128, 64, 32, 16] {
      var bytes = 0
      let t = percentile(
        (0..<max(5, repeats / 20)).map { _ in
          let start = DispatchTime.now().uptimeNanoseconds
          bytes = (try? SixelEncoder.encode(smear, colors: colours))?.count ?? 0
          return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }, 0.5)
      if colours == 256 { reference = t }
      results["sixel224x224[\(colours)]Ms"] = t
      results["sixel224x224[\(colours)]Bytes"] = Double(bytes)
      lines.append(
        String(
          format: "sixel 224x224, %3d colours: %.2f ms (%.2fx of 256), %d bytes", colours, t,
          t / max(reference, 1e-9), bytes))
    }
  }

  /// Up to 64 decodable images of the folder, else the built-in test patterns.
  static func loadSources(_ images: String?) -> [ImageSource] {
    let folder = images ?? "SampleData/bccd/JPEGImages"
    let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    var sources: [ImageSource] = []
    for f in files.prefix(64) {
      if let image = try? decodeImage(at: (folder as NSString).appendingPathComponent(f)) {
        sources.append(ImageSource(image))
      }
    }
    if sources.isEmpty {
      sources = (0..<32).map { ImageSource(TestPattern.image(index: $0, width: 224, height: 224)) }
    }
    return sources
  }

  static func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
  }
}
