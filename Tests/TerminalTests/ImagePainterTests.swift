import Foundation
import Imaging
import Testing

@testable import Terminal

@Suite struct ImagePainterTests {
  func solid(_ w: Int, _ h: Int, _ c: (UInt8, UInt8, UInt8)) -> ImageSource {
    ImageSource(RGBImage(width: w, height: h, fill: c))
  }

  func frame(_ placements: [(String, CellRect)], rows: Int = 24, columns: Int = 80) -> Frame {
    var f = Frame(rows: rows, columns: columns)
    for (key, rect) in placements {
      f.place(ImagePlacement(key: key, rect: rect, source: solid(40, 40, (200, 100, 50))))
    }
    return f
  }

  func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

  @Test func fitKeepsTheAspectRatioOnScreen() {
    // A square image in 10 × 5 cells of 9 × 19 pixels: the box is 90 × 95, so 90 × 90.
    let s = ImageFit.fit(
      sourceWidth: 100, sourceHeight: 100, columns: 10, rows: 5, cellWidth: 9, cellHeight: 19,
      backend: .sixel(colors: 64))
    #expect(s == ImageFit(pixelWidth: 90, pixelHeight: 90, coveredColumns: 10, coveredRows: 5))
    // The same with half blocks: 10 columns, and 90 screen pixels / 9.5 per half row → 9 rows of pixels.
    let b = ImageFit.fit(
      sourceWidth: 100, sourceHeight: 100, columns: 10, rows: 5, cellWidth: 9, cellHeight: 19,
      backend: .halfBlocks(trueColor: true))
    #expect(b == ImageFit(pixelWidth: 10, pixelHeight: 9, coveredColumns: 10, coveredRows: 5))
  }

  @Test func unchangedImagesAreNotRedrawn() {
    let p = ImagePainter(backend: .halfBlocks(trueColor: true), cellWidth: 9, cellHeight: 19)
    let f = frame([
      ("a", CellRect(row: 1, column: 1, rows: 4, columns: 8)),
      ("b", CellRect(row: 1, column: 10, rows: 4, columns: 8)),
    ])
    let first = p.paint(f, screenRows: 24)
    #expect(p.statistics.imagesDrawn == 2)
    #expect(first.eraseBytes.isEmpty)
    #expect(text(first.drawBytes).hasPrefix("\u{1B}7\u{1B}[2;2H"))
    #expect(text(first.drawBytes).hasSuffix("\u{1B}8"))
    let second = p.paint(f, screenRows: 24)
    #expect(second.drawBytes.isEmpty && second.eraseBytes.isEmpty)
    #expect(p.statistics.imagesDrawn == 2)
  }

  @Test func removedAndMovedImagesAreErasedWithECH() {
    let p = ImagePainter(backend: .halfBlocks(trueColor: true), cellWidth: 9, cellHeight: 19)
    _ = p.paint(
      frame([
        ("a", CellRect(row: 1, column: 1, rows: 2, columns: 4)),
        ("b", CellRect(row: 5, column: 1, rows: 2, columns: 4)),
      ]), screenRows: 24)
    // b leaves; a moves right.
    let paint = p.paint(frame([("a", CellRect(row: 1, column: 3, rows: 2, columns: 4))]), screenRows: 24)
    let erase = text(paint.eraseBytes)
    // Fit of a square 40×40 into 4×2 cells of 9×19: 36 × 36 screen px → 4 × 4 block pixels → 2 rows.
    #expect(erase.contains("\u{1B}[2;2H\u{1B}[4X\u{1B}[3;2H\u{1B}[4X"))
    #expect(erase.contains("\u{1B}[6;2H\u{1B}[4X\u{1B}[7;2H\u{1B}[4X"))
    #expect(paint.erasedRows == [1, 2, 5, 6])
    #expect(text(paint.drawBytes).contains("\u{1B}[2;4H"))
    #expect(p.statistics.imagesErased == 2)
  }

  @Test func imagesStayOffTheLastRow() {
    let p = ImagePainter(backend: .halfBlocks(trueColor: false), cellWidth: 10, cellHeight: 20)
    let paint = p.paint(frame([("a", CellRect(row: 20, column: 0, rows: 4, columns: 4))]), screenRows: 24)
    #expect(p.drawnImages.map(\.rect) == [CellRect(row: 20, column: 0, rows: 3, columns: 4)])
    #expect(!text(paint.drawBytes).contains("\u{1B}[24;"))
  }

  @Test func noneBackendDrawsNothingAndErasesWhatWasThere() {
    let p = ImagePainter(backend: .halfBlocks(trueColor: false), cellWidth: 10, cellHeight: 20)
    let f = frame([("a", CellRect(row: 0, column: 0, rows: 2, columns: 4))])
    _ = p.paint(f, screenRows: 24)
    p.reconfigure(backend: .none, cellWidth: 10, cellHeight: 20)
    let paint = p.paint(f, screenRows: 24)
    #expect(paint.drawBytes.isEmpty)
  }

  @Test func encodedBytesAreCachedByKeySizeAndBackend() {
    let cache = EncodedImageCache()
    let p = ImagePainter(backend: .sixel(colors: 16), cellWidth: 10, cellHeight: 20, cache: cache)
    let rect = CellRect(row: 0, column: 0, rows: 3, columns: 6)
    _ = p.paint(frame([("a", rect)]), screenRows: 24)
    _ = p.paint(frame([]), screenRows: 24)
    _ = p.paint(frame([("a", rect)]), screenRows: 24)
    #expect(p.statistics.encodes == 1)
    #expect(cache.hits == 1)
    p.reconfigure(backend: .halfBlocks(trueColor: true), cellWidth: 10, cellHeight: 20)
    _ = p.paint(frame([("a", rect)]), screenRows: 24)
    #expect(p.statistics.encodes == 2)
    #expect(cache.count == 2)
  }

  @Test func cacheEvictsLeastRecentlyUsedBeyondItsBudget() {
    let cache = EncodedImageCache(byteBudget: 250)
    func key(_ k: String) -> EncodedImageKey { EncodedImageKey(key: k, width: 1, height: 1, backend: .none) }
    cache.store(.sixel([UInt8](repeating: 0, count: 100)), for: key("a"))
    cache.store(.sixel([UInt8](repeating: 0, count: 100)), for: key("b"))
    _ = cache.lookup(key("a"))
    cache.store(.sixel([UInt8](repeating: 0, count: 100)), for: key("c"))
    #expect(cache.lookup(key("b")) == nil)
    #expect(cache.lookup(key("a")) != nil)
    #expect(cache.totalBytes == 200)
  }

  @Test func damageRedrawsOnlyTheChangedCells() {
    let p = ImagePainter(backend: .halfBlocks(trueColor: true), cellWidth: 10, cellHeight: 20)
    let rect = CellRect(row: 0, column: 0, rows: 10, columns: 20)
    let source = solid(20, 20, (10, 20, 30))
    var f1 = Frame(rows: 24, columns: 80)
    f1.place(ImagePlacement(key: "img|v1", rect: rect, source: source))
    let full = p.paint(f1, screenRows: 24)
    var f2 = Frame(rows: 24, columns: 80)
    // The top-left quarter-by-quarter region changed.
    f2.place(
      ImagePlacement(
        key: "img|v2", rect: rect, source: source,
        damage: ImageDamage(since: "img|v1", x: 0, y: 0, width: 0.25, height: 0.25)))
    let partial = p.paint(f2, screenRows: 24)
    #expect(partial.eraseBytes.isEmpty)
    #expect(p.statistics.partialDraws == 1)
    #expect(partial.drawBytes.count < full.drawBytes.count / 4)
    #expect(p.drawnImages.map(\.key) == ["img|v2"])
    // Damage relative to a version not on screen falls back to a full draw.
    var f3 = Frame(rows: 24, columns: 80)
    f3.place(
      ImagePlacement(
        key: "img|v4", rect: rect, source: source,
        damage: ImageDamage(since: "img|v3", x: 0, y: 0, width: 0.1, height: 0.1)))
    _ = p.paint(f3, screenRows: 24)
    #expect(p.statistics.partialDraws == 1)
  }
}

@Suite struct HeadlessRendererTests {
  @Test func firstFrameIsFullThenOnlyChangesAreSent() throws {
    let theme = try Theme.parse(Array(BuiltinThemes.files["dark"]!.utf8).data, source: "dark")
    let r = HeadlessRenderer(
      theme: theme, painter: ImagePainter(backend: .none, cellWidth: 10, cellHeight: 20))
    var f = Frame(rows: 5, columns: 20)
    f.put("hello", row: 0, column: 0)
    let first = String(decoding: r.render(f), as: UTF8.self)
    #expect(first.contains("\u{1B}[2J"))
    #expect(first.contains("hello"))
    let same = r.render(f)
    #expect(String(decoding: same, as: UTF8.self) == "\u{1B}[0m")
    f.put("j", row: 0, column: 0)
    let change = String(decoding: r.render(f), as: UTF8.self)
    #expect(change.hasPrefix("\u{1B}[1;1H"))
    #expect(change.contains("j"))
    #expect(!change.contains("ello"))
  }

  @Test func stylesBecomeSGRFromTheTheme() throws {
    let theme = try Theme.parse(Array(BuiltinThemes.files["dark"]!.utf8).data, source: "dark")
    let r = HeadlessRenderer(
      theme: theme, painter: ImagePainter(backend: .none, cellWidth: 10, cellHeight: 20), trueColor: true)
    var f = Frame(rows: 1, columns: 10)
    f.put("B", row: 0, column: 0, style: Style(.classLabel(0)))
    let out = String(decoding: r.render(f), as: UTF8.self)
    // Class 0 in the dark theme is #5fd75f, bold.
    #expect(out.contains("\u{1B}[0;1;38;2;95;215;95mB"))
  }
}

extension Array where Element == UInt8 {
  var data: Foundation.Data { Foundation.Data(self) }
}
