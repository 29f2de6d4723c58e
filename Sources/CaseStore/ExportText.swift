import Foundation

/// Text that leaves BlastView in export files, made safe for the programs that open them.
///
/// CSV: a cell that a spreadsheet would take as a formula (it begins with `=`, `+`, `-`,
/// `@`, a tab or a carriage return, OWASP's "CSV injection" list, also after leading spaces)
/// is written with a single quote in front and quoted, so Excel, LibreOffice and Sheets show
/// it as text. The quote is visible in the cell; a reader that wants the original drops one
/// leading `'` from such cells.
///
/// JSON: JSONEncoder writes C1 control characters (U+0080–U+009F), the Unicode bidirectional
/// controls and the line/paragraph separators raw; a terminal or editor that shows the file
/// would obey them (a rater name that reverses the rest of the line). They are written as
/// `\uXXXX` escapes instead, which every JSON reader decodes back to the same text.
enum ExportText {
  /// Leading characters that make a spreadsheet evaluate a cell.
  static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]

  /// Whether a spreadsheet could read `s` as a formula.
  static func looksLikeFormula(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first(where: { $0 != " " }) else { return false }
    return formulaStarts.contains(first) || s.unicodeScalars.first.map(formulaStarts.contains) == true
  }

  /// One CSV cell: neutralised when it looks like a formula, quoted when it needs quotes.
  static func csvCell(_ s: String) -> String {
    if looksLikeFormula(s) { return "\"'" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
    // By scalar: "\r\n" is one Character, equal to neither "\r" nor "\n".
    if s.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
      return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
    return s
  }

  /// Whether a scalar is written as an escape in JSON files: C0 is already escaped by
  /// JSONEncoder; this adds DEL, C1, the bidi embeddings, overrides, isolates and marks, and
  /// the line and paragraph separators.
  static func needsJSONEscape(_ v: UInt32) -> Bool {
    switch v {
    case 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x2028...0x202E, 0x2066...0x2069: return true
    default: return false
    }
  }

  /// Rewrites encoded JSON so those scalars appear as `\uXXXX`. Safe on any JSON text: the
  /// scalars can occur only inside strings, where the escape means the same character.
  static func escapeUnsafeScalars(_ json: [UInt8]) -> [UInt8] {
    let text = String(decoding: json, as: UTF8.self)
    guard text.unicodeScalars.contains(where: { needsJSONEscape($0.value) }) else { return json }
    var out = String.UnicodeScalarView()
    for s in text.unicodeScalars {
      if needsJSONEscape(s.value) {
        out.append(contentsOf: String(format: "\\u%04X", s.value).unicodeScalars)
      } else {
        out.append(s)
      }
    }
    return Array(String(out).utf8)
  }

  /// A rater name as a file-name part, reversibly: ASCII letters, digits, `-` and `_` are
  /// kept, every other byte of the UTF-8 name is `%XX` (so `dr_a`, `dr/a` and `dr:a` give
  /// `dr_a`, `dr%2Fa`, `dr%3Aa`). Never empty, never starts with a dot.
  static func fileNamePart(_ name: String) -> String {
    if name.isEmpty { return "%" }
    var out = ""
    for b in name.utf8 {
      switch b {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
        out.append(Character(Unicode.Scalar(b)))
      default: out += String(format: "%%%02X", b)
      }
    }
    return out
  }
}
