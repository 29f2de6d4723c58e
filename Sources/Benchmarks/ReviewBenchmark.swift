import CaseStore
import Dispatch
import Foundation
import Imaging
import Review
import Terminal

/// `blastview bench review`: issue 7's bars for the review app, measured through the pure
/// update/view and the headless renderer (what the terminal would be sent): the first text
/// frame on a large workspace, a keypress to a redrawn text frame (median and 99th
/// percentile), and a brush stroke segment to a redrawn mask overlay on a 224 × 224 image
/// shown large. Baselines from the same run: one browser page query, and one full encode of
/// the displayed image.
public enum ReviewBenchmark {
  public struct Options: Sendable {
    /// The workspace to browse (100,000 cases for issue 7's bar).
    public var workspace: String
    public var rater = "bench-reviewer"
    public var columns = 160
    public var rows = 48
    public var cellWidth = 9
    public var cellHeight = 19
    /// Keypresses and brush segments to time.
    public var repeats = 300

    public init(workspace: String) { self.workspace = workspace }
  }

  /// The figures by name (milliseconds), and one sentence per measurement with its baseline.
  public struct Report: Sendable {
    public var results: [String: Double]
    public var lines: [String]
  }

  public static func run(_ o: Options) throws -> Report {
    precondition(o.columns >= 80 && o.rows >= 24 && o.repeats >= 10)
    let (columns, rows, cw, ch) = (o.columns, o.rows, o.cellWidth, o.cellHeight)
    let rater = o.rater
    let repeats = o.repeats
    let theme = Theme.dark
    var results: [String: Double] = [:]
    var lines: [String] = []
    func ms(_ start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 }
    func pct(_ v: [Double], _ p: Double) -> Double {
      let sorted = v.sorted()
      return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
    }

    // 1. First frame: open the workspace, build the app, load the first page, render it.
    var t = DispatchTime.now().uptimeNanoseconds
    let store = try Workspace.open(path: o.workspace)
    let app = try ReviewApp(
      store: store, rater: rater, session: nil, rows: rows, columns: columns, graphics: false)
    app.begin()
    let text = HeadlessRenderer(
      theme: theme, painter: ImagePainter(backend: .none, cellWidth: cw, cellHeight: ch))
    let firstBytes = text.render(app.frame).count
    let first = ms(t)
    t = DispatchTime.now().uptimeNanoseconds
    _ = try store.casePage(CasePageRequest(limit: app.state.grid.pageSize), viewer: .rater(rater))
    let pageQuery = ms(t)
    results["firstFrameMs"] = first
    results["pageQueryMs"] = pageQuery
    lines.append(
      String(
        format:
          "first text frame on %d cases: %.1f ms (open + first page + count + view + render, %d bytes); baseline one page query %.2f ms",
        app.state.totalCases, first, firstBytes, pageQuery))

    // 2. Keypresses: moves, with a page turn every tenth key (a database query).
    var keyTimes: [Double] = []
    var keyBytes = 0
    for i in 0..<repeats {
      let key: KeyPress =
        i % 10 == 9 ? KeyPress(i % 20 == 19 ? .pageUp : .pageDown) : KeyPress(i % 2 == 0 ? .right : .left)
      t = DispatchTime.now().uptimeNanoseconds
      app.dispatch(.input(.key(key)))
      keyBytes += text.render(app.frame).count
      keyTimes.append(ms(t))
    }
    results["keyMedianMs"] = pct(keyTimes, 0.5)
    results["keyP99Ms"] = pct(keyTimes, 0.99)
    lines.append(
      String(
        format:
          "keypress to redrawn text frame (%d keys, 1 in 10 a page turn): median %.2f ms, p99 %.2f ms (%.1fx / %.1fx the page query); %.0f bytes per frame",
        repeats, pct(keyTimes, 0.5), pct(keyTimes, 0.99), pct(keyTimes, 0.5) / pageQuery,
        pct(keyTimes, 0.99) / pageQuery,
        Double(keyBytes) / Double(repeats)))

    // 3. Brush strokes on a 224 × 224 image shown large, in a scratch workspace.
    let scratch = URL(
      fileURLWithPath: try ScratchFolder.make(
        in: FileManager.default.temporaryDirectory.path, for: "bench-review"))
    defer { ScratchFolder.remove(scratch.path) }
    try FileManager.default.createDirectory(
      at: scratch.appendingPathComponent("img"), withIntermediateDirectories: true)
    try writePNG(
      TestPattern.image(index: 3, width: 224, height: 224),
      to: scratch.appendingPathComponent("img/smear.png").path)
    let scratchStore = try Workspace.create(at: scratch.appendingPathComponent("ws").path)
    _ = try scratchStore.importImages(ImportOptions(paths: [scratch.appendingPathComponent("img").path]))
    for backend in [GraphicsBackend.sixel(colors: SixelEncoder.defaultColors), .halfBlocks(trueColor: true)] {
      let editorApp = try ReviewApp(
        store: scratchStore, rater: rater, session: nil, rows: rows, columns: columns, graphics: true)
      editorApp.begin()
      editorApp.dispatch(.input(.key(KeyPress(.enter))))
      editorApp.dispatch(.input(.key(KeyPress("m"))))
      let renderer = HeadlessRenderer(
        theme: theme, painter: ImagePainter(backend: backend, cellWidth: cw, cellHeight: ch))
      t = DispatchTime.now().uptimeNanoseconds
      let fullBytes = renderer.render(editorApp.frame).count
      let full = ms(t)
      editorApp.dispatch(.input(.key(KeyPress(" "))))
      _ = renderer.render(editorApp.frame)
      var segTimes: [Double] = []
      var segBytes = 0
      for i in 0..<repeats {
        // Back and forth across the nucleus, one pixel per segment, the pen down.
        let step = (i / 40) % 2 == 0 ? KeyPress("l") : KeyPress("h")
        t = DispatchTime.now().uptimeNanoseconds
        editorApp.dispatch(.input(.key(step)))
        segBytes += renderer.render(editorApp.frame).count
        segTimes.append(ms(t))
      }
      editorApp.dispatch(.input(.key(KeyPress(" "))))  // pen up: the stroke is saved
      let name = "\(backend)"
      results["strokeMedianMs[\(name)]"] = pct(segTimes, 0.5)
      results["strokeP99Ms[\(name)]"] = pct(segTimes, 0.99)
      results["fullImageMs[\(name)]"] = full
      lines.append(
        String(
          format:
            "brush segment to redrawn overlay, %@: median %.2f ms, p99 %.2f ms, %.0f bytes; baseline full redraw %.1f ms, %d bytes (%.2fx / %.2fx)",
          name, pct(segTimes, 0.5), pct(segTimes, 0.99), Double(segBytes) / Double(repeats), full, fullBytes,
          pct(segTimes, 0.5) / full, pct(segTimes, 0.99) / full))
    }

    return Report(results: results, lines: lines)
  }
}
