import ArgumentParser
import FileSafety
import Foundation
import Imaging
import Terminal

/// `blastview show-image`: a hidden diagnostic that shows images in a grid with a chosen
/// backend, page by page. The terminal integration tests drive it (sixel in xterm, half
/// blocks in tmux, every exit path), and `doctor` users can check what their terminal shows.
struct ShowImageCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show-image",
    abstract: "Show images (or generated test patterns) in the terminal with each graphics backend.",
    shouldDisplay: false)

  @Option(help: "Graphics backend: auto, sixel, blocks or none (default: $BLASTVIEW_GRAPHICS, else auto).")
  var graphics: String?

  @Option(help: "Theme name (see Themes/).")
  var theme: String = "dark"

  @Option(help: "Generate this many test patterns instead of reading files.")
  var patterns: Int = 0

  @Option(help: "Tile size in cells, as COLUMNSxROWS.")
  var tile: String = "24x10"

  @Flag(help: "Crash with a Swift runtime error after the first frame (tests the terminal restore).")
  var crashAfterFirstFrame = false

  @Option(
    help: ArgumentHelp(
      "Write the screen layout as JSON to this file after every frame (for tests).", visibility: .hidden))
  var report: String?

  @Argument(help: "Image files (PNG, JPEG, BMP).")
  var files: [String] = []

  func run() throws {
    let mode = try GraphicsChoice.resolve(flag: graphics, environment: ProcessInfo.processInfo.environment)
    let theme = try Theme.named(theme)
    let parts = tile.split(separator: "x").compactMap { Int($0) }
    guard parts.count == 2, parts[0] >= 4, parts[1] >= 3 else {
      throw ValidationError("--tile must be COLUMNSxROWS, at least 4x3, not '\(Sanitizer.sanitize(tile))'")
    }
    var items: [(name: String, source: ImageSource)] = []
    for i in 0..<max(0, patterns) {
      items.append(("pattern \(i + 1)", ImageSource(TestPattern.image(index: i, width: 160, height: 120))))
    }
    for path in files {
      let image: RGBImage
      do {
        image = try decodeImage(at: path)
      } catch {
        throw ValidationError(Sanitizer.sanitize(error.description))  // the path is user data
      }
      items.append((Sanitizer.sanitize((path as NSString).lastPathComponent), ImageSource(image)))
    }
    guard !items.isEmpty else { throw ValidationError("give image files or --patterns N") }

    let environment = GraphicsEnvironment.detect()
    let backend = GraphicsBackend.select(mode, environment: environment)
    let session = try TerminalSession(
      theme: theme, backend: backend, cellSize: environment.cellSize, mousePixels: environment.mousePixels)
    var viewer = ImageGrid(items: items, tileColumns: parts[0], tileRows: parts[1], backend: backend)
    var first = true
    while true {
      session.render(viewer.frame(rows: session.rows, columns: session.columns))
      if let report { writeReport(session, environment: environment, page: viewer.page, to: report) }
      if first && crashAfterFirstFrame {
        let empty: [Int] = []
        _ = empty[viewer.page]  // a Swift runtime error: index out of range
      }
      first = false
      for event in session.nextEvents(timeoutMilliseconds: -1) {
        switch event {
        case .key(let k) where k == KeyPress("q") || k == KeyPress("c", .control):
          session.end()
          return
        case .key(let k) where k.key == .pageDown || k == KeyPress(" ") || k == KeyPress("n"):
          viewer.page += 1
        case .key(let k) where k.key == .pageUp || k == KeyPress("p"):
          viewer.page -= 1
        case .terminate(let signal):
          session.endAndReraise(signal)
        default:
          break
        }
      }
      viewer.clampPage(rows: session.rows, columns: session.columns)
    }
  }
}

/// The layout the integration tests need to find images in a screenshot.
private func writeReport(
  _ session: TerminalSession, environment: GraphicsEnvironment, page: Int, to path: String
) {
  let painter = session.renderer.painter
  let images: [[String: Any]] = painter.drawnImages.map { image in
    [
      "key": image.key, "row": image.rect.row, "column": image.rect.column,
      "pixelWidth": image.fit.pixelWidth, "pixelHeight": image.fit.pixelHeight,
    ]
  }
  let object: [String: Any] = [
    "page": page, "rows": session.rows, "columns": session.columns,
    "cellWidth": session.cellWidth, "cellHeight": session.cellHeight,
    "backend": "\(painter.backend)", "images": images,
    "colorRegisters": environment.colorRegisters ?? 0, "mousePixels": environment.mousePixels,
    "sixelReported": environment.sixel ?? false,
  ]
  if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
    try? SafeFile.write(Array(data), to: path)
  }
}

/// The grid view of `show-image`: a header, then tiles of image + caption.
struct ImageGrid {
  var items: [(name: String, source: ImageSource)]
  var tileColumns: Int
  var tileRows: Int
  var backend: GraphicsBackend
  var page = 0

  func perPage(rows: Int, columns: Int) -> (across: Int, down: Int) {
    (max(1, columns / tileColumns), max(1, (rows - 2) / tileRows))
  }

  mutating func clampPage(rows: Int, columns: Int) {
    let (a, d) = perPage(rows: rows, columns: columns)
    let pages = (items.count + a * d - 1) / (a * d)
    page = max(0, min(page, pages - 1))
  }

  func frame(rows: Int, columns: Int) -> Frame {
    var f = Frame(rows: rows, columns: columns)
    let (across, down) = perPage(rows: rows, columns: columns)
    let pages = (items.count + across * down - 1) / (across * down)
    f.put(
      " show-image · \(backend) · page \(page + 1)/\(pages) · PgDn/PgUp pages · q quits", row: 0,
      column: 0, style: Style(.header), width: columns)
    for slot in 0..<(across * down) {
      let index = page * across * down + slot
      guard index < items.count else { break }
      let top = 1 + (slot / across) * tileRows
      let left = (slot % across) * tileColumns
      let rect = CellRect(row: top, column: left, rows: tileRows - 1, columns: tileColumns - 1)
      f.put(
        items[index].name, row: top + tileRows - 1, column: left, style: Style(.dim), width: tileColumns - 1)
      if backend.drawsImages {
        f.place(ImagePlacement(key: "show:\(index)", rect: rect, source: items[index].source))
      } else {
        f.put("[\(items[index].source.width)×\(items[index].source.height)]", row: top, column: left)
      }
    }
    f.put(" \(items.count) images", row: rows - 1, column: 0, style: Style(.status), width: columns)
    return f
  }
}
