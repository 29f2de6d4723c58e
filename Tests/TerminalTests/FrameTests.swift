import Testing

@testable import Terminal

@Suite struct FrameTests {
  @Test func putWritesTextAndReportsColumns() {
    var f = Frame(rows: 3, columns: 10)
    let n = f.put("hello", row: 1, column: 2, style: Style(.accent))
    #expect(n == 5)
    #expect(f.text(row: 1) == "  hello")
    #expect(f.text(row: 0) == "")
    #expect(f[1, 2].style.role == .accent)
    #expect(f.find("llo") == CellPosition(row: 1, column: 4))
    #expect(f.contains("hello"))
    #expect(!f.contains("help"))
  }

  @Test func textIsClippedAtTheEdgeAndAtMaxWidth() {
    var f = Frame(rows: 1, columns: 6)
    #expect(f.put("abcdefgh", row: 0, column: 2) == 4)
    #expect(f.text(row: 0) == "  abcd")
    var g = Frame(rows: 1, columns: 10)
    #expect(g.put("abcdefgh", row: 0, column: 0, maxWidth: 3) == 3)
    #expect(g.text(row: 0) == "abc")
  }

  @Test func wideCharactersTakeTwoCells() {
    var f = Frame(rows: 1, columns: 8)
    #expect(TextWidth.of("細") == 2)
    #expect(TextWidth.of("e\u{301}") == 1)  // e + combining acute
    #expect(f.put("細胞x", row: 0, column: 0) == 5)
    #expect(f[0, 0].width == 2)
    #expect(f[0, 1].isContinuation)
    #expect(f[0, 4].character == "x")
    #expect(f.text(row: 0) == "細胞x")
    #expect(f.find("x") == CellPosition(row: 0, column: 4))
  }

  @Test func wideCharacterThatWouldStraddleTheEdgeIsNotDrawn() {
    var f = Frame(rows: 1, columns: 3)
    #expect(f.put("a細細", row: 0, column: 0) == 3)
    #expect(f.text(row: 0) == "a細")
    var g = Frame(rows: 1, columns: 2)
    #expect(g.put("a細", row: 0, column: 0) == 1)
  }

  @Test func overwritingHalfAWideCharacterBlanksTheOtherHalf() {
    var f = Frame(rows: 1, columns: 4)
    f.put("細", row: 0, column: 0)
    f.put("z", row: 0, column: 1)
    #expect(f.text(row: 0) == " z")
    #expect(!f[0, 1].isContinuation)
    var g = Frame(rows: 1, columns: 4)
    g.put("細", row: 0, column: 1)
    g.put("y", row: 0, column: 1)
    #expect(g.text(row: 0) == " y")
  }

  @Test func controlCharactersNeverEnterAFrame() {
    var f = Frame(rows: 1, columns: 20)
    f.put("a\u{1B}[2Jb", row: 0, column: 0)
    #expect(!f.text.unicodeScalars.contains { $0.value == 0x1B })
    #expect(f.text(row: 0).hasPrefix("a\u{FFFD}"))
  }

  /// A view that forgets to sanitise still cannot reorder or hide text: bidi overrides and
  /// invisible format characters become the marker in the cell, as the `Sanitizer` says; plain
  /// accented and wide text is untouched.
  @Test func bidiAndInvisibleCharactersNeverEnterAFrame() {
    var f = Frame(rows: 1, columns: 30)
    f.put("ann\u{202E}gpj\u{200B}.exe Früh-B 好", row: 0, column: 0)
    #expect(!f.text.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x200B })
    #expect(f.text(row: 0).hasPrefix("ann\u{FFFD}gpj\u{FFFD}.exe Früh-B 好"), "\(f.text(row: 0))")
  }

  @Test func truncationUsesAnEllipsis() {
    #expect(TextWidth.truncated("abcdefgh", to: 5) == "abcd…")
    #expect(TextWidth.truncated("abc", to: 5) == "abc")
    #expect(TextWidth.padded("ab", to: 4) == "ab  ")
    #expect(TextWidth.truncated("細胞細胞", to: 5) == "細胞…")
    var f = Frame(rows: 1, columns: 10)
    f.put("a long name", row: 0, column: 0, width: 6)
    #expect(f.text(row: 0) == "a lon…")
  }

  @Test func boxDrawsBordersAndTitle() {
    var f = Frame(rows: 4, columns: 10)
    f.box(CellRect(row: 0, column: 0, rows: 4, columns: 10), title: "Hi")
    #expect(f.lines == ["┌ Hi ────┐", "│        │", "│        │", "└────────┘"])
    #expect(f[0, 0].style.role == .border)
  }

  @Test func placementsAreClippedToTheFrame() {
    var f = Frame(rows: 10, columns: 10)
    let source = ImageSource(width: 1, height: 1) { _, _ in nil }
    f.place(ImagePlacement(key: "a", rect: CellRect(row: 8, column: 8, rows: 5, columns: 5), source: source))
    f.place(ImagePlacement(key: "b", rect: CellRect(row: 20, column: 0, rows: 2, columns: 2), source: source))
    #expect(f.images.count == 1)
    #expect(f.images[0].rect == CellRect(row: 8, column: 8, rows: 2, columns: 2))
    #expect(f.images(at: CellPosition(row: 9, column: 9)).map(\.key) == ["a"])
  }

  @Test func framesCompareByContent() {
    var a = Frame(rows: 2, columns: 4)
    var b = Frame(rows: 2, columns: 4)
    #expect(a == b)
    a.put("x", row: 0, column: 0)
    #expect(a != b)
    b.put("x", row: 0, column: 0)
    #expect(a == b)
    b.restyle(CellRect(row: 0, column: 0, rows: 1, columns: 1), style: Style(.selection))
    #expect(a != b)
  }
}
