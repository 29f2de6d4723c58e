import CaseStore
import Foundation
import Imaging
import Testing

@testable import Review
@testable import Terminal

/// The repository root, from this file's location.
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent()

/// A fresh workspace holding the 20 BCCD smears from SampleData (plus `extra` files copied
/// in under the given names), and a review app on it for rater "alice".
func makeApp(
  rows: Int = 40, columns: Int = 120, graphics: Bool = true, extra: [String] = []
) throws -> (ReviewApp, CaseStore, URL) {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("review-\(UUID().uuidString)")
  let images = dir.appendingPathComponent("images")
  try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
  let source = repository.appendingPathComponent("SampleData/bccd/JPEGImages")
  for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".jpg") {
    try FileManager.default.copyItem(
      at: source.appendingPathComponent(name), to: images.appendingPathComponent(name))
  }
  let first = source.appendingPathComponent("BloodImage_00000.jpg")
  for (i, name) in extra.enumerated() {
    // A different file each (one byte appended after the JPEG's end), so it is its own case.
    var data = try Data(contentsOf: first)
    data.append(UInt8(i))
    try data.write(to: images.appendingPathComponent(name))
  }
  let store = try Workspace.create(at: dir.appendingPathComponent("ws").path)
  _ = try store.importImages(ImportOptions(paths: [images.path]))
  let app = try ReviewApp(
    store: store, rater: "alice", session: nil, rows: rows, columns: columns, graphics: graphics)
  app.begin()
  return (app, store, dir)
}

func key(_ c: Character, _ m: Modifiers = []) -> AppEvent { .input(.key(KeyPress(c, m))) }
func key(_ k: Key) -> AppEvent { .input(.key(KeyPress(k))) }

@Suite struct BrowserTests {
  @Test func firstFrameShowsHeaderCountsAndAThumbnailPerCase() throws {
    let (app, _, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    let f = app.frame
    #expect(f.text(row: 0).contains("rater alice"))
    #expect(f.text(row: 0).contains("20 cases"))
    #expect(f.text(row: 1).contains("all cases · sort id ↑ · page 1 · 20 matching"))
    // 120 × 40: 6 tiles across, 4 down: all 20 cases on the first page.
    #expect(f.images.count == 20)
    #expect(f.images.map(\.key) == (1...20).map { "thumb:\($0)" })
    #expect(f.images[0].rect == CellRect(row: 2, column: 0, rows: 6, columns: 19))
    // No prediction ("–") and no label of mine (no "me:"; the U badge says so).
    #expect(f.contains("▶#1 –") && !f.contains("me:"))
    #expect(f.contains(" U BloodImage_0000…"))
    #expect(f.text(row: 39).contains("? help"))
  }

  @Test func arrowsAndVimKeysMoveTheSelectionAcrossTheGrid() throws {
    let (app, _, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.right))
    #expect(app.state.selection == 1)
    app.dispatch(key("j"))
    #expect(app.state.selection == 7)
    app.dispatch(key("h"))
    app.dispatch(key(.up))
    #expect(app.state.selection == 0)
    #expect(app.frame.contains("▶#1"))
  }

  @Test func pagingWithSmallerPages() throws {
    // 80 × 24: 4 across, 2 down: 8 cases a page.
    let (app, _, dir) = try makeApp(rows: 24, columns: 80)
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(app.frame.images.count == 8)
    app.dispatch(key(.pageDown))
    #expect(app.state.pageNumber == 2)
    #expect(app.frame.images.map(\.key) == (9...16).map { "thumb:\($0)" })
    app.dispatch(key(.pageDown))
    app.dispatch(key(.pageDown))
    #expect(app.frame.images.map(\.key) == (17...20).map { "thumb:\($0)" })
    #expect(app.frame.text(row: 23).contains("Last page"))
    app.dispatch(key(.pageUp))
    #expect(app.frame.images.first?.key == "thumb:9")
    app.dispatch(key(.home))
    #expect(app.state.pageNumber == 1 && app.frame.images.first?.key == "thumb:1")
  }

  @Test func listWhenGraphicsAreOff() throws {
    let (app, _, dir) = try makeApp(graphics: false)
    defer { try? FileManager.default.removeItem(at: dir) }
    let f = app.frame
    #expect(f.images.isEmpty)
    #expect(f.contains("case   file"))
    #expect(f.text(row: 3).hasPrefix("▶     1  BloodImage_00000.jpg"))
  }

  @Test func filtersSearchAndSort() throws {
    let (app, _, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.enter))
    app.dispatch(key("1"))  // case 1: Benign
    app.dispatch(key(.escape))
    app.dispatch(key("u"))
    #expect(app.frame.text(row: 1).contains("unreviewed"))
    #expect(app.state.matching == 19)
    #expect(app.frame.images.first?.key == "thumb:2")
    app.dispatch(key("u"))
    app.dispatch(key("m"))  // my label = Benign
    #expect(app.state.matching == 1)
    #expect(app.frame.text(row: 1).contains("mine: Benign"))
    app.dispatch(key("c"))
    #expect(app.state.matching == 20)
    app.dispatch(key("/"))
    for c in "Image_00124" { app.dispatch(key(c)) }
    #expect(app.frame.text(row: 1).contains("search: Image_00124"))
    app.dispatch(key(.enter))
    #expect(app.state.matching == 1)
    #expect(app.frame.images.count == 1)
    #expect(app.state.selectedRow?.path.hasSuffix("BloodImage_00124.jpg") == true)
    app.dispatch(key("c"))
    app.dispatch(key("r"))  // descending id
    #expect(app.frame.images.first?.key == "thumb:20")
    #expect(app.frame.text(row: 1).contains("sort id ↓"))
  }

  @Test func mouseClickSelectsAndASecondClickOpens() throws {
    let (app, _, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    let click = AppEvent.input(.mouse(MouseEvent(kind: .press, button: .left, row: 12, column: 25)))
    app.dispatch(click)
    #expect(app.state.selection == 7)
    app.dispatch(click)
    #expect(app.state.screen == .caseView)
    #expect(app.frame.contains("Case #8"))
  }
}

@Suite struct CaseViewTests {
  @Test func labelKeysSaveAtOnceAndTheStatusLineConfirms() throws {
    let (app, store, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.enter))
    var f = app.frame
    #expect(f.contains("Case #1"))
    #expect(f.images.map(\.key) == ["case:1"])
    #expect(f.contains("No prediction yet"))
    #expect(f.contains("My label: none (press 1/2/3/4)"))
    app.dispatch(key("3"))
    f = app.frame
    #expect(f.text(row: 39).contains("Saved: case #1 labelled Pre-B"))
    #expect(f.style(of: " Saved: case #1")?.role == .statusOK)
    #expect(f.contains("My label: Pre-B"))
    #expect(f.contains("alice: Pre-B"))
    // It is in the database, as the current label.
    let labels = try store.currentLabels(viewer: .system)
    #expect(labels.map { "\($0.caseID) \($0.rater) \($0.label)" } == ["1 alice Pre-B"])
    // The class name appears with its colour, never the colour alone.
    #expect(f.style(of: "My label: Pre-B")?.role == .classLabel(2))
  }

  @Test func nextAndPreviousFollowTheBrowserOrderAcrossPages() throws {
    let (app, _, dir) = try makeApp(rows: 24, columns: 80)
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.end))  // not bound: nothing happens
    for _ in 0..<7 { app.dispatch(key(.right)) }
    app.dispatch(key(.enter))
    #expect(app.frame.contains("Case #8"))
    app.dispatch(key("n"))  // across the page edge
    #expect(app.frame.contains("Case #9"))
    #expect(app.state.pageNumber == 2)
    app.dispatch(key("p"))
    #expect(app.frame.contains("Case #8"))
    app.dispatch(key(.escape))
    #expect(app.state.screen == .browser)
    #expect(app.frame.contains("▶#8"))
  }

  @Test func acceptWithoutAPredictionSaysWhy() throws {
    let (app, store, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.enter))
    app.dispatch(key("a"))
    #expect(app.frame.text(row: 39).contains("No prediction for this case yet"))
    #expect(try store.currentLabels(viewer: .system).isEmpty)
  }
}

@Suite struct ScreenTests {
  @Test func helpIsGeneratedFromTheKeyMap() throws {
    let (app, _, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key("?"))
    var f = app.frame
    #expect(f.contains("Keys: browser"))
    for binding in KeyMap.browser { #expect(f.contains(binding.help), "\(binding.help)") }
    #expect(
      f.images.filter { $0.rect.intersects(CellRect(row: 10, column: 28, rows: 20, columns: 64)) }.isEmpty)
    app.dispatch(key("x"))  // any key closes it
    #expect(!app.frame.contains("Keys: browser"))
    app.dispatch(key(.enter))
    app.dispatch(key("?"))
    f = app.frame
    for binding in KeyMap.caseView(schema: LabelSchema.all4.classes.map { ($0.key, $0.name) }) {
      #expect(f.contains(binding.help), "\(binding.help)")
    }
  }

  @Test func tooSmallAndBack() throws {
    let (app, _, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(.input(.resize(rows: 20, columns: 70)))
    var f = app.frame
    #expect(f.contains("Enlarge the terminal"))
    #expect(f.contains("this one is 70 × 20"))
    #expect(f.images.isEmpty)
    app.dispatch(key("j"))  // ignored while too small
    app.dispatch(.input(.resize(rows: 40, columns: 120)))
    f = app.frame
    #expect(f.contains("20 matching"))
    #expect(app.state.selection == 0)
  }

  @Test func terminationSignalQuits() throws {
    let (app, _, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(app.dispatch(.input(.terminate(signal: SIGHUP))) == false)
    #expect(app.state.quitting)
  }

  @Test func hostileFileNamesAreShownSanitised() throws {
    let (app, _, dir) = try makeApp(graphics: false, extra: ["\u{1B}]0;pwned\u{07}.jpg", "\u{1B}[2J.jpg"])
    defer { try? FileManager.default.removeItem(at: dir) }
    let text = app.frame.text
    #expect(text.contains("\u{FFFD}.jpg"))
    #expect(!text.contains("pwned"))
    #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 })
  }
}

@Suite struct HelpPagingTests {
  /// At 80 × 24 the browser has more keys than the screen has rows: the help shows them in
  /// pages, space turns the page, and together the pages list every key once.
  @Test func everyKeyOnSomePageAtEightyByTwentyFour() throws {
    let (app, _, dir) = try makeApp(rows: 24, columns: 80)
    defer { try? FileManager.default.removeItem(at: dir) }
    let bindings = KeyMap.bindings(for: app.state)
    #expect(
      bindings.count > 20, "the browser's key map no longer overflows 80 × 24: this test checks nothing")
    app.dispatch(key("?"))
    var seen: [String] = []
    var pages = 0
    while app.state.showHelp && pages < 10 {
      pages += 1
      let f = app.frame
      #expect(f.contains("page \(pages) of"))
      for b in bindings where f.contains(b.help) { seen.append(b.help) }
      app.dispatch(key(" "))
    }
    #expect(pages >= 2)
    #expect(!app.state.showHelp)  // space on the last page closes it
    for b in bindings { #expect(seen.contains(b.help), "\(b.help)") }
    // Any other key closes it from the first page, and it opens on page 1 again.
    app.dispatch(key("?"))
    app.dispatch(key(" "))
    #expect(app.state.helpPage == 1)
    app.dispatch(key("x"))
    #expect(!app.state.showHelp)
    app.dispatch(key("?"))
    #expect(app.state.helpPage == 0 && app.frame.contains("page 1 of"))
  }
}
