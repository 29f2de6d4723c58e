/// The one filter between data and the terminal (DESIGN §7: "No terminal escape from data
/// reaches the screen").
///
/// File names, labels, notes, rater names and anything else a user or a file controls pass
/// through `sanitize(_:)` before they reach a `Frame` or are printed by the CLI. It removes:
/// - whole escape sequences (CSI, OSC, DCS, SOS, PM, APC and two-byte ESC sequences, in their
///   7-bit `ESC x` and 8-bit C1 forms), so `\e]0;title\a` cannot retitle the window and
///   `\e[2J` cannot clear the screen, and their payload does not leak as text either;
/// - every other C0 control (U+0000–U+001F), DEL (U+007F) and C1 control (U+0080–U+009F);
/// - bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the bidi
///   marks U+200E, U+200F, U+061C, which can make `gpj.exe` look like `exe.jpg`.
///
/// Each removed run is replaced by one U+FFFD (the replacement character), so a reader can see
/// that something was there and two hostile names that differ only in their controls remain
/// distinguishable. Tabs and line breaks become one space: everything drawn is one line.
public enum Sanitizer {
  /// The character that marks where controls or escape sequences were removed.
  public static let marker: Character = "\u{FFFD}"

  /// `text` made safe to draw on a terminal: see the type's documentation for what is removed.
  public static func sanitize(_ text: String) -> String {
    // Fast path: the overwhelmingly common case of plain printable text.
    if text.unicodeScalars.allSatisfy({ isPlain($0) }) { return text }
    var out = String.UnicodeScalarView()
    var scalars = Array(text.unicodeScalars)[...]
    var lastWasMarker = false
    func mark() {
      if !lastWasMarker { out.append(Unicode.Scalar(0xFFFD)!) }
      lastWasMarker = true
    }
    while let s = scalars.first {
      scalars = scalars.dropFirst()
      switch s.value {
      case 0x09, 0x0A, 0x0D:
        out.append(" ")
        lastWasMarker = false
      case 0x1B:
        skipEscapeSequence(&scalars)
        mark()
      case 0x9B:  // 8-bit CSI
        skipControlSequence(&scalars)
        mark()
      case 0x90, 0x98, 0x9D, 0x9E, 0x9F:  // 8-bit DCS, SOS, OSC, PM, APC
        skipString(&scalars)
        mark()
      default:
        if isControl(s) || isBidiControl(s) {
          mark()
        } else {
          out.append(s)
          lastWasMarker = false
        }
      }
    }
    return String(out)
  }

  /// Decodes `bytes` as UTF-8 (invalid sequences become U+FFFD) and sanitises the result; for
  /// file names, which on Linux are arbitrary bytes.
  public static func sanitize(bytes: some Collection<UInt8>) -> String {
    sanitize(String(decoding: Array(bytes), as: UTF8.self))
  }

  /// True for a scalar that needs no filtering.
  @inline(__always) static func isPlain(_ s: Unicode.Scalar) -> Bool {
    let v = s.value
    if v >= 0x20 && v < 0x7F { return true }
    return !(isControl(s) || isBidiControl(s))
  }

  @inline(__always) static func isControl(_ s: Unicode.Scalar) -> Bool {
    let v = s.value
    return v < 0x20 || (v >= 0x7F && v <= 0x9F)
  }

  /// Bidi embeddings, overrides, isolates and marks.
  @inline(__always) static func isBidiControl(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0x061C: return true
    default: return false
    }
  }

  /// Called after ESC: drops the rest of the sequence it starts (ECMA-48 §5.3, §8.3.27).
  private static func skipEscapeSequence(_ s: inout ArraySlice<Unicode.Scalar>) {
    guard let next = s.first else { return }
    switch next {
    case "[":
      s = s.dropFirst()
      skipControlSequence(&s)
    case "]", "P", "X", "^", "_":
      s = s.dropFirst()
      skipString(&s)
    default:
      // nF sequences: intermediates 0x20–0x2F, then one final byte 0x30–0x7E.
      while let c = s.first, (0x20...0x2F).contains(c.value) { s = s.dropFirst() }
      if let c = s.first, (0x30...0x7E).contains(c.value) { s = s.dropFirst() }
    }
  }

  /// After CSI: parameters 0x30–0x3F, intermediates 0x20–0x2F, then a final byte 0x40–0x7E.
  /// Stops early at anything else, which the caller then filters on its own.
  private static func skipControlSequence(_ s: inout ArraySlice<Unicode.Scalar>) {
    while let c = s.first, (0x30...0x3F).contains(c.value) { s = s.dropFirst() }
    while let c = s.first, (0x20...0x2F).contains(c.value) { s = s.dropFirst() }
    if let c = s.first, (0x40...0x7E).contains(c.value) { s = s.dropFirst() }
  }

  /// After OSC, DCS, SOS, PM or APC: everything up to and including the string terminator
  /// (ST: `ESC \` or 0x9C; BEL also ends OSC in xterm), or to the end of the text.
  private static func skipString(_ s: inout ArraySlice<Unicode.Scalar>) {
    while let c = s.first {
      s = s.dropFirst()
      switch c.value {
      case 0x07, 0x9C: return
      case 0x1B:
        if s.first == "\\" { s = s.dropFirst() }
        return
      default: continue
      }
    }
  }
}

extension String {
  /// This string through `Sanitizer.sanitize(_:)`: safe to draw on a terminal.
  public var sanitizedForTerminal: String { Sanitizer.sanitize(self) }
}
