import CaseStore
import Foundation
import TestSupport
import Testing

@testable import Review
@testable import Terminal

/// Sixel for real in the browser (issue 7): `blastview review` in `xterm -ti vt340` (256
/// colour registers) under Xvfb; every thumbnail rectangle of the first page shows a picture,
/// and after paging, the rectangles the second page leaves empty are empty again.
@Suite(.serialized, .enabled(if: EndToEnd.has("Xvfb", "xterm", "xwd", "xdotool")))
struct ReviewSixelTests {
  @Test func browserThumbnailsShowAndPagingLeavesNoStaleImage() throws {
    let dir = EndToEnd.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let ws = dir.appendingPathComponent("ws").path
    let bin = EndToEnd.binary!
    #expect(EndToEnd.run([bin, "init", "--workspace", ws, "--no-model"]).status == 0)
    let images = EndToEnd.repositoryRoot.appendingPathComponent("SampleData/bccd/JPEGImages").path
    #expect(EndToEnd.run([bin, "import", "--workspace", ws, images]).status == 0)

    let xvfb = try #require(XvfbDisplay())
    defer { xvfb.stop() }
    #expect(xvfb.waitUntilReady())
    var env = ProcessInfo.processInfo.environment
    env["DISPLAY"] = xvfb.name
    env["TMUX"] = nil
    env["BLASTVIEW_PROBE_TIMEOUT_MS"] = "3000"
    // 100 × 30 cells of 9 × 19 pixels (DejaVu Sans Mono 11): 5 tiles across, 3 down = 15 a page.
    let command = "\(EndToEnd.shellQuote(bin)) review --workspace \(EndToEnd.shellQuote(ws)) --rater alice"
    let xterm = try #require(
      Child(
        [
          "xterm", "-ti", "vt340", "-xrm", "XTerm*numColorRegisters: 256", "-b", "0", "-geometry",
          "100x30+0+0",
          "-fa", "DejaVu Sans Mono", "-fs", "11", "-e", "sh", "-c", command,
        ], environment: env))
    defer { xterm.stop(SIGKILL) }

    var state = AppState(
      rows: 30, columns: 100, graphics: true, schema: .all4, rater: "alice", workspaceName: "ws")
    state.page = nil
    let perPage = state.grid.pageSize
    #expect(perPage == 15)
    let fit = ImageFit.fit(
      sourceWidth: 640, sourceHeight: 480, columns: 19, rows: 6, cellWidth: 9, cellHeight: 19,
      backend: .sixel(colors: 64))
    func rect(_ i: Int) -> (x: Int, y: Int, w: Int, h: Int) {
      let r = View.tileRect(i, in: state)
      return (r.column * 9, r.row * 19, fit.pixelWidth, fit.pixelHeight)
    }
    func shot() -> XWindowDump? {
      let path = dir.appendingPathComponent("shot.xwd").path
      guard EndToEnd.run(["sh", "-c", "xwd -root -silent > \(path)"], environment: env).status == 0 else {
        return nil
      }
      return FileManager.default.contents(atPath: path).flatMap(XWindowDump.init(data:))
    }
    func colours(_ s: XWindowDump, _ i: Int) -> Int {
      let r = rect(i)
      return s.distinctColours(x: r.x, y: r.y, width: r.w, height: r.h)
    }
    var page1: XWindowDump?
    let drawn = EndToEnd.waitUntil(seconds: 30) {
      page1 = shot()
      guard let s = page1 else { return false }
      return (0..<perPage).allSatisfy { colours(s, $0) >= 20 }
    }
    #expect(drawn, "not every thumbnail of page 1 was drawn")
    if let s = page1 {
      for i in 0..<perPage { #expect(colours(s, i) >= 20, "tile \(i) shows \(colours(s, i)) colours") }
    }
    // Page 2 holds cases 16-20: tiles 0-4 drawn, tiles 5-14 empty.
    EndToEnd.run(["xdotool", "mousemove", "300", "300", "key", "Next"], environment: env)
    var page2: XWindowDump?
    let settled = EndToEnd.waitUntil(seconds: 30) {
      page2 = shot()
      guard let s = page2 else { return false }
      return (0..<5).allSatisfy { colours(s, $0) >= 20 } && (5..<perPage).allSatisfy { colours(s, $0) <= 2 }
    }
    #expect(settled, "page 2 did not settle to 5 images and 10 empty tiles")
    if let s = page2 {
      for i in 5..<perPage {
        #expect(colours(s, i) <= 2, "stale image in tile \(i): \(colours(s, i)) colours")
      }
    }
    EndToEnd.run(["xdotool", "key", "q"], environment: env)
    #expect(EndToEnd.waitUntil(seconds: 10) { !xterm.isRunning })
  }
}
