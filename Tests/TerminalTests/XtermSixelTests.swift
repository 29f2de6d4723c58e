import Foundation
import TestSupport
import Testing

/// Sixel for real (issue 7): the binary runs in `xterm -ti vt340` with 256 colour registers
/// under Xvfb; screenshots (xwd) must show every image rectangle filled with a picture (the test
/// patterns quantise to 15-20 colours; an empty rectangle has one), and after paging, no stale image where the previous page had one.
@Suite(.serialized, .enabled(if: EndToEnd.has("Xvfb", "xterm", "xwd", "xdotool")))
struct XtermSixelTests {
  struct Report: Decodable {
    struct Image: Decodable {
      var key: String
      var row: Int
      var column: Int
      var pixelWidth: Int
      var pixelHeight: Int
    }
    var page: Int
    var cellWidth: Int
    var cellHeight: Int
    var backend: String
    var images: [Image]
    var colorRegisters: Int
    var mousePixels: Bool
    var sixelReported: Bool
  }

  @Test func thumbnailsShowAndPagingLeavesNoStaleImage() throws {
    let dir = EndToEnd.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let xvfb = try #require(XvfbDisplay())
    defer { xvfb.stop() }
    #expect(xvfb.waitUntilReady())
    var env = ProcessInfo.processInfo.environment
    env["DISPLAY"] = xvfb.name
    env["TMUX"] = nil
    // xterm on a loaded 2-core machine can take longer than the default 200 ms to answer.
    env["BLASTVIEW_PROBE_TIMEOUT_MS"] = "3000"
    let report = dir.appendingPathComponent("report.json").path
    let command =
      "\(EndToEnd.shellQuote(EndToEnd.binary!)) show-image --patterns 14 --graphics auto --report \(EndToEnd.shellQuote(report))"
    let xterm = try #require(
      Child(
        [
          "xterm", "-ti", "vt340", "-xrm", "XTerm*numColorRegisters: 256", "-b", "0", "-geometry",
          "110x32+0+0",
          "-fa", "DejaVu Sans Mono", "-fs", "11", "-e", "sh", "-c", command,
        ], environment: env))
    defer { xterm.stop(SIGKILL) }

    func readReport(page: Int) -> Report? {
      guard let data = FileManager.default.contents(atPath: report),
        let r = try? JSONDecoder().decode(Report.self, from: data), r.page == page
      else { return nil }
      return r
    }
    func screenshot() throws -> XWindowDump {
      let path = dir.appendingPathComponent("shot.xwd").path
      let r = EndToEnd.run(["sh", "-c", "xwd -root -silent > \(path)"], environment: env)
      #expect(r.status == 0)
      return try #require(XWindowDump(data: try Data(contentsOf: URL(fileURLWithPath: path))))
    }
    /// Waits until xterm has drawn every image of the report (it draws asynchronously).
    func settledShot(_ r: Report, expectFilled: Bool) throws -> XWindowDump {
      var shot = try screenshot()
      _ = EndToEnd.waitUntil(seconds: 5) {
        shot = (try? screenshot()) ?? shot
        return r.images.allSatisfy { colours(shot, $0, r) >= 8 } == expectFilled
      }
      return shot
    }
    func colours(_ shot: XWindowDump, _ i: Report.Image, _ r: Report) -> Int {
      shot.distinctColours(
        x: i.column * r.cellWidth, y: i.row * r.cellHeight, width: i.pixelWidth, height: i.pixelHeight)
    }

    var first: Report?
    #expect(
      EndToEnd.waitUntil(seconds: 20) {
        first = readReport(page: 0)
        return first != nil
      })
    let page1 = try #require(first)
    // The probe found what xterm offers, and auto chose sixel from it.
    #expect(page1.sixelReported)
    #expect(page1.colorRegisters == 256)
    #expect(page1.mousePixels)
    #expect(page1.cellWidth == 9 && page1.cellHeight == 19)
    #expect(page1.backend == "sixel (64 colours)")
    #expect(page1.images.count >= 8)
    let shot1 = try settledShot(page1, expectFilled: true)
    for image in page1.images {
      let n = colours(shot1, image, page1)
      #expect(n >= 8, "\(image.key) shows \(n) colours: the sixel image is missing")
    }
    // A blank part of the screen, right of the last tile column, has one colour.
    #expect(
      shot1.distinctColours(x: 100 * page1.cellWidth, y: 2 * page1.cellHeight, width: 60, height: 100) == 1)

    // Next page: fewer images; every rectangle the first page drew in and the second does not
    // must be empty again.
    EndToEnd.run(["xdotool", "mousemove", "300", "300", "key", "Next"], environment: env)
    var second: Report?
    #expect(
      EndToEnd.waitUntil(seconds: 10) {
        second = readReport(page: 1)
        return second != nil
      })
    let page2 = try #require(second)
    #expect(page2.images.count == 14 - page1.images.count)
    let shot2 = try settledShot(page2, expectFilled: true)
    for image in page2.images {
      #expect(colours(shot2, image, page2) >= 8, "\(image.key) missing on page 2")
    }
    let occupied = Set(page2.images.map { "\($0.row),\($0.column)" })
    for image in page1.images where !occupied.contains("\(image.row),\(image.column)") {
      let n = colours(shot2, image, page1)
      #expect(n <= 2, "stale image left at row \(image.row), column \(image.column): \(n) colours")
    }

    EndToEnd.run(["xdotool", "key", "q"], environment: env)
    #expect(EndToEnd.waitUntil(seconds: 10) { !xterm.isRunning })
  }
}
