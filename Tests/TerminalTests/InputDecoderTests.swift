import Testing

@testable import Terminal

@Suite struct InputDecoderTests {
  func decode(_ s: String, pixels: Bool = false) -> [InputEvent] {
    var d = InputDecoder(mousePixels: pixels, cellWidth: 9, cellHeight: 19)
    return d.feed(Array(s.utf8)) + d.flush()
  }

  func keys(_ s: String) -> [KeyPress] {
    decode(s).compactMap { if case .key(let k) = $0 { return k } else { return nil } }
  }

  @Test func printableAndVimKeys() {
    #expect(keys("hjklq?") == ["h", "j", "k", "l", "q", "?"].map { KeyPress(Character($0)) })
    #expect(keys("G") == [KeyPress("G")])
    #expect(keys("é細") == [KeyPress("é"), KeyPress("細")])
  }

  @Test func cursorKeysInBothModes() {
    #expect(
      keys("\u{1B}[A\u{1B}[B\u{1B}[C\u{1B}[D") == [
        KeyPress(.up), KeyPress(.down), KeyPress(.right), KeyPress(.left),
      ])
    // Application cursor mode (SS3), as after `tput smkx`.
    #expect(
      keys("\u{1B}OA\u{1B}OD\u{1B}OH\u{1B}OF") == [
        KeyPress(.up), KeyPress(.left), KeyPress(.home), KeyPress(.end),
      ])
  }

  @Test func modifiedCursorKeys() {
    #expect(keys("\u{1B}[1;2A") == [KeyPress(.up, .shift)])
    #expect(keys("\u{1B}[1;5C") == [KeyPress(.right, .control)])
    #expect(keys("\u{1B}[1;6D") == [KeyPress(.left, [.shift, .control])])
    #expect(keys("\u{1B}[1;3B") == [KeyPress(.down, .alt)])
  }

  @Test func pagingAndEditingKeys() {
    #expect(keys("\u{1B}[5~\u{1B}[6~") == [KeyPress(.pageUp), KeyPress(.pageDown)])
    #expect(
      keys("\u{1B}[1~\u{1B}[4~\u{1B}[7~\u{1B}[8~\u{1B}[H\u{1B}[F") == [
        KeyPress(.home), KeyPress(.end), KeyPress(.home), KeyPress(.end), KeyPress(.home), KeyPress(.end),
      ])
    #expect(keys("\u{1B}[3~\u{1B}[2~") == [KeyPress(.delete), KeyPress(.insert)])
    #expect(keys("\u{1B}[5;5~") == [KeyPress(.pageUp, .control)])
    #expect(keys("\u{1B}[Z") == [KeyPress(.tab, .shift)])
    #expect(
      keys("\u{1B}OP\u{1B}[15~\u{1B}[24~") == [
        KeyPress(.function(1)), KeyPress(.function(5)), KeyPress(.function(12)),
      ])
  }

  @Test func controlKeysEnterTabBackspace() {
    #expect(
      keys("\r\n\t\u{7F}\u{08}") == [
        KeyPress(.enter), KeyPress(.enter), KeyPress(.tab), KeyPress(.backspace), KeyPress(.backspace),
      ])
    #expect(keys("\u{12}") == [KeyPress("r", .control)])  // Ctrl-R: redo
    #expect(keys("\u{03}") == [KeyPress("c", .control)])  // Ctrl-C arrives as a key in raw mode
    #expect(keys("\u{0}") == [KeyPress(" ", .control)])
  }

  @Test func escapeAloneNeedsTheQuietFlush() {
    var d = InputDecoder()
    #expect(d.feed([0x1B]).isEmpty)
    #expect(d.hasPending)
    #expect(d.flush() == [.key(KeyPress(.escape))])
    #expect(!d.hasPending)
  }

  @Test func altIsAnEscapePrefix() {
    #expect(keys("\u{1B}x") == [KeyPress("x", .alt)])
    #expect(keys("\u{1B}\u{1B}") == [KeyPress(.escape), KeyPress(.escape)])
  }

  @Test func sequencesSplitAcrossReadsAreReassembled() {
    var d = InputDecoder()
    let bytes = Array("\u{1B}[1;2A細\u{1B}[<0;10;5M".utf8)
    var events: [InputEvent] = []
    for b in bytes { events += d.feed([b]) }
    #expect(events.count == 3)
    #expect(events[0] == .key(KeyPress(.up, .shift)))
    #expect(events[1] == .key(KeyPress("細")))
    #expect(!d.hasPending)
  }

  @Test func sgrMouseClicksWheelAndDrag() {
    let events = decode(
      "\u{1B}[<0;10;5M\u{1B}[<32;11;5M\u{1B}[<0;12;6m\u{1B}[<64;1;1M\u{1B}[<65;1;1M\u{1B}[<2;3;4M\u{1B}[<35;7;8M"
    )
    #expect(
      events == [
        .mouse(MouseEvent(kind: .press, button: .left, row: 4, column: 9)),
        .mouse(MouseEvent(kind: .drag, button: .left, row: 4, column: 10)),
        .mouse(MouseEvent(kind: .release, button: .left, row: 5, column: 11)),
        .mouse(MouseEvent(kind: .wheelUp, button: .none, row: 0, column: 0)),
        .mouse(MouseEvent(kind: .wheelDown, button: .none, row: 0, column: 0)),
        .mouse(MouseEvent(kind: .press, button: .right, row: 3, column: 2)),
        .mouse(MouseEvent(kind: .move, button: .none, row: 7, column: 6)),
      ])
  }

  @Test func mouseModifiers() {
    #expect(
      decode("\u{1B}[<20;1;1M") == [
        .mouse(MouseEvent(kind: .press, button: .left, row: 0, column: 0, modifiers: [.shift, .control]))
      ])
  }

  @Test func pixelMouseReportsConvertToCells() {
    // Mode 1016: 1-based pixels. Pixel (100, 40) in 9×19 cells is column 11, row 2.
    #expect(
      decode("\u{1B}[<0;101;41M", pixels: true) == [
        .mouse(MouseEvent(kind: .press, button: .left, row: 2, column: 11, pixelX: 100, pixelY: 40))
      ])
  }

  @Test func bracketedPasteIsOneEvent() {
    #expect(
      decode("a\u{1B}[200~hello\u{1B}[A world\u{1B}[201~b") == [
        .key(KeyPress("a")), .paste("hello\u{1B}[A world"), .key(KeyPress("b")),
      ])
  }

  @Test func unknownSequencesAreDropped() {
    #expect(keys("\u{1B}[I\u{1B}[O\u{1B}[?62;4cq") == [KeyPress("q")])
  }

  @Test func keyDescriptionsForHelp() {
    #expect(KeyPress("r", .control).description == "Ctrl-R")
    #expect(KeyPress(.left, .shift).description == "Shift-←")
    #expect(KeyPress(.pageDown).description == "PgDn")
    #expect(KeyPress("q").description == "q")
    #expect(KeyPress(" ").description == "Space")
  }
}
