/// The one filter between data and the terminal (DESIGN §7: "No terminal escape from data
/// reaches the screen"). The review screens and every CLI command use it; no other module has
/// its own (libraries such as Imaging report raw text, and whoever prints it filters it here).
///
/// File names, labels, notes, rater names and anything else a user or a file controls pass
/// through `sanitize(_:mode:)` before they reach a `Frame` or are printed by the CLI. It removes:
/// - whole escape sequences (CSI, OSC, DCS, SOS, PM, APC and two-byte ESC sequences, in their
///   7-bit `ESC x` and 8-bit C1 forms), so `\e]0;title\a` cannot retitle the window and
///   `\e[2J` cannot clear the screen, and their payload does not leak as text either;
/// - every other C0 control (U+0000–U+001F), DEL (U+007F) and C1 control (U+0080–U+009F);
/// - bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the bidi
///   marks U+200E, U+200F, U+061C, which can make `gpj.exe` look like `exe.jpg`;
/// - the other invisible format characters (Unicode category Cf: zero-width space U+200B,
///   zero-width non-joiner U+200C, word joiner U+2060, BOM U+FEFF, soft hyphen, tag
///   characters, ...), with which two names that look the same differ, or hidden text rides
///   along. The one exception is a zero-width joiner between two emoji (`👩‍🔬`), which draws
///   one visible picture.
///
/// Each removed run is replaced by one U+FFFD (the replacement character), so a reader can see
/// that something was there and two hostile names that differ only in their controls remain
/// distinguishable.
///
/// Line breaks depend on where the text goes (`Mode`): a field (a name, a label, anything drawn
/// in a cell of the review screen or inside a CLI line) stays on one line, so tabs and line
/// breaks become one space; a multi-line message (an error, a note printed as a paragraph)
/// keeps its line feeds, and a carriage return, which would let the next line overwrite
/// this one, becomes a line feed.
public enum Sanitizer {
  /// Where the sanitised text goes.
  public enum Mode: Sendable {
    /// One field on one line: tabs and every line break (LF, CR, VT, FF, U+2028, U+2029)
    /// become a space. (NEL, U+0085, is a C1 control and removed like the others.)
    case field
    /// Multi-line text: line breaks become `\n` (CR LF and a lone CR included), tabs stay.
    case text
  }

  /// The character that marks where controls or escape sequences were removed.
  public static let marker: Character = "\u{FFFD}"

  /// `text` made safe to print on a terminal as one field (`Mode.field`).
  public static func sanitize(_ text: String) -> String { sanitize(text, mode: .field) }

  /// `text` made safe to print on a terminal: see the type's documentation for what is removed.
  public static func sanitize(_ text: String, mode: Mode) -> String {
    // Fast path: the overwhelmingly common case of plain printable text.
    if text.unicodeScalars.allSatisfy({ isPlain($0) }) { return text }
    var out = String.UnicodeScalarView()
    var scalars = Array(text.unicodeScalars)[...]
    var lastWasMarker = false
    var previous: Unicode.Scalar? = nil
    func mark() {
      if !lastWasMarker { out.append(Unicode.Scalar(0xFFFD)!) }
      lastWasMarker = true
      previous = nil
    }
    func append(_ s: Unicode.Scalar) {
      out.append(s)
      lastWasMarker = false
      previous = s
    }
    while let s = scalars.first {
      scalars = scalars.dropFirst()
      switch s.value {
      case 0x0D where mode == .text:
        if scalars.first == "\n" { scalars = scalars.dropFirst() }
        append("\n")
      case 0x0A, 0x0B, 0x0C, 0x2028, 0x2029:
        append(mode == .text ? "\n" : " ")
      case 0x09:
        append(mode == .text ? "\t" : " ")
      case 0x0D:
        append(" ")
      case 0x1B:
        skipEscapeSequence(&scalars)
        mark()
      case 0x9B:  // 8-bit CSI
        skipControlSequence(&scalars)
        mark()
      case 0x90, 0x98, 0x9D, 0x9E, 0x9F:  // 8-bit DCS, SOS, OSC, PM, APC
        skipString(&scalars)
        mark()
      case 0x200D where joinsEmoji(previous, scalars.first):
        append(s)
      default:
        if isControl(s) || isBidiControl(s) || isFormat(s) {
          mark()
        } else {
          append(s)
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

  /// True for a scalar `sanitize` removes or replaces in some mode (controls, bidi and format
  /// characters, line and paragraph separators). Writers of other formats read by people on a
  /// terminal (the CLI's JSON) escape exactly these instead (`\uXXXX`), so the text survives
  /// intact for a program and harmless for a reader.
  public static func needsFiltering(_ s: Unicode.Scalar) -> Bool { !isPlain(s) }

  /// True for a scalar that needs no filtering.
  @inline(__always) static func isPlain(_ s: Unicode.Scalar) -> Bool {
    let v = s.value
    if v >= 0x20 && v < 0x7F { return true }
    return !(isControl(s) || isBidiControl(s) || isFormat(s) || v == 0x2028 || v == 0x2029)
  }

  /// Invisible format characters (general category Cf), the bidi controls among them.
  @inline(__always) static func isFormat(_ s: Unicode.Scalar) -> Bool {
    s.value >= 0xAD && s.properties.generalCategory == .format
  }

  /// True when a zero-width joiner between `before` and `after` forms one emoji (`👩‍🔬`,
  /// `❤️‍🔥`): both sides are pictographic (or the emoji variation selector before it).
  static func joinsEmoji(_ before: Unicode.Scalar?, _ after: Unicode.Scalar?) -> Bool {
    guard let before, let after else { return false }
    func pictographic(_ s: Unicode.Scalar) -> Bool {
      s.value >= 0xA9 && s.properties.isEmoji
    }
    return (pictographic(before) || before.value == 0xFE0F) && pictographic(after)
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
