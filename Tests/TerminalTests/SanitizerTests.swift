import Testing

@testable import Terminal

@Suite struct SanitizerTests {
  @Test func plainTextIsUnchanged() {
    for s in ["case-0042.png", "Früh-B", "細胞 ok", "émile 👩‍🔬", ""] {
      #expect(Sanitizer.sanitize(s) == s)
    }
  }

  @Test func oscTitleSequenceIsRemovedWhole() {
    // The hostile file name from issue 7: it must neither retitle the window nor leak its payload.
    #expect(Sanitizer.sanitize("\u{1B}]0;pwned\u{07}.png") == "\u{FFFD}.png")
    #expect(Sanitizer.sanitize("a\u{1B}]2;pwned\u{1B}\\b") == "a\u{FFFD}b")
    #expect(!Sanitizer.sanitize("\u{1B}]0;pwned\u{07}.png").contains("pwned"))
  }

  @Test func csiSequencesAreRemoved() {
    #expect(Sanitizer.sanitize("\u{1B}[2J.png") == "\u{FFFD}.png")
    #expect(Sanitizer.sanitize("red\u{1B}[31;1mtext\u{1B}[0m") == "red\u{FFFD}text\u{FFFD}")
    #expect(Sanitizer.sanitize("x\u{1B}[?1049hy") == "x\u{FFFD}y")
    // 8-bit CSI (U+009B) and OSC (U+009D).
    #expect(Sanitizer.sanitize("a\u{9B}2Jb") == "a\u{FFFD}b")
    #expect(Sanitizer.sanitize("a\u{9D}0;t\u{9C}b") == "a\u{FFFD}b")
  }

  @Test func dcsAndOtherStringsAreRemoved() {
    #expect(Sanitizer.sanitize("a\u{1B}Pq#0;2;0;0;0~~\u{1B}\\b") == "a\u{FFFD}b")
    #expect(Sanitizer.sanitize("a\u{1B}_apc\u{1B}\\b") == "a\u{FFFD}b")
    // Unterminated: everything to the end goes.
    #expect(Sanitizer.sanitize("a\u{1B}]0;forever") == "a\u{FFFD}")
  }

  @Test func twoByteEscapesAndLoneControlsAreRemoved() {
    #expect(Sanitizer.sanitize("a\u{1B}cb") == "a\u{FFFD}b")  // RIS: full reset
    #expect(Sanitizer.sanitize("a\u{1B}(0b") == "a\u{FFFD}b")  // G0 charset
    #expect(Sanitizer.sanitize("bell\u{07}") == "bell\u{FFFD}")
    #expect(Sanitizer.sanitize("del\u{7F}x") == "del\u{FFFD}x")
    #expect(Sanitizer.sanitize("nul\u{0}x") == "nul\u{FFFD}x")
    #expect(Sanitizer.sanitize("c1\u{85}x") == "c1\u{FFFD}x")
    #expect(Sanitizer.sanitize("bs\u{08}\u{08}x") == "bs\u{FFFD}x")  // a run gives one marker
  }

  @Test func whitespaceControlsBecomeSpaces() {
    #expect(Sanitizer.sanitize("two\nlines\tand\rtab") == "two lines and tab")
  }

  @Test func bidiControlsAreRemoved() {
    // "gpj.exe" displayed reversed would read "exe.jpg".
    #expect(Sanitizer.sanitize("photo\u{202E}gpj.exe") == "photo\u{FFFD}gpj.exe")
    for v: UInt32 in [0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F]
    {
      let s = "a" + String(Unicode.Scalar(v)!) + "b"
      #expect(Sanitizer.sanitize(s) == "a\u{FFFD}b", "U+\(String(v, radix: 16))")
    }
  }

  @Test func textModeKeepsLineFeedsAndStopsCarriageReturnOverwrites() {
    #expect(Sanitizer.sanitize("two\nlines", mode: .text) == "two\nlines")
    // A carriage return would let the rest overwrite the line: it becomes a line feed.
    #expect(Sanitizer.sanitize("ok\rFAKE", mode: .text) == "ok\nFAKE")
    #expect(Sanitizer.sanitize("a\r\nb\u{2028}c\u{85}d", mode: .text) == "a\nb\nc\u{FFFD}d")
    #expect(Sanitizer.sanitize("col\tumn", mode: .text) == "col\tumn")
    #expect(Sanitizer.sanitize("a\u{2028}b\u{2029}c") == "a b c")
    // Everything else is filtered as in a field.
    #expect(Sanitizer.sanitize("x\u{1B}]0;t\u{07}\ny\u{202E}z", mode: .text) == "x\u{FFFD}\ny\u{FFFD}z")
  }

  @Test func invisibleFormatCharactersAreRemoved() {
    // Zero-width space, non-joiner, word joiner, BOM, soft hyphen, a tag character, and a
    // zero-width joiner between letters: names that look alike must not differ invisibly.
    for v: UInt32 in [0x200B, 0x200C, 0x2060, 0xFEFF, 0x00AD, 0xE0041, 0x200D] {
      let s = "a" + String(Unicode.Scalar(v)!) + "b"
      #expect(Sanitizer.sanitize(s) == "a\u{FFFD}b", "U+\(String(v, radix: 16))")
      #expect(Sanitizer.needsFiltering(Unicode.Scalar(v)!))
    }
    // A joiner that makes one emoji of two stays (woman + ZWJ + microscope; heart + VS16 + ZWJ + fire).
    #expect(Sanitizer.sanitize("👩\u{200D}🔬") == "👩\u{200D}🔬")
    #expect(Sanitizer.sanitize("❤\u{FE0F}\u{200D}🔥") == "❤\u{FE0F}\u{200D}🔥")
    #expect(Sanitizer.sanitize("👩\u{200D}") == "👩\u{FFFD}")
  }

  @Test func invalidUTF8BecomesReplacementCharacters() {
    let bytes: [UInt8] = [0x61, 0xFF, 0x1B, 0x5B, 0x32, 0x4A, 0x62]
    #expect(Sanitizer.sanitize(bytes: bytes) == "a\u{FFFD}\u{FFFD}b")
  }

  @Test func resultNeverContainsControls() {
    // Every byte value, alone and before a printable, never survives as a control.
    for b in 0...255 {
      let s = Sanitizer.sanitize(bytes: [UInt8(b), 0x41, 0x1B, UInt8(b), 0x42])
      #expect(!s.unicodeScalars.contains { $0.value < 0x20 || ($0.value >= 0x7F && $0.value <= 0x9F) })
    }
  }
}
