import Terminal

/// Text for the study report's HTML and SVG. Names, reasons and labels come from users and
/// files: they go through the one sanitiser (no control or bidi characters survive) and are
/// then escaped, so no text can open a tag, an attribute or an entity.
enum HTMLText {
  static func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for ch in Sanitizer.sanitize(text) {
      switch ch {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      default: out.append(ch)
      }
    }
    return out
  }

  /// A number as the report prints it (the `agree` text report's three decimals).
  static func fixed(_ x: Double?, _ digits: Int = 3) -> String {
    guard let x, x.isFinite else { return "undefined" }
    return AgreeOutput.fixed(x, digits)
  }

  /// A coordinate in an SVG: two decimals, no exponent.
  static func coordinate(_ x: Double) -> String { String(format: "%.2f", x) }
}
