import CTerminalSupport

/// Terminal column widths of text, as a UTF-8 terminal (and ncursesw) lays it out: most
/// characters take one column, East Asian wide characters and emoji two, combining marks none.
///
/// Widths come from glibc's `wcwidth` under the C.UTF-8 locale (selected per call, so the
/// result does not depend on `LANG`); ncursesw uses the same table when the process locale is
/// UTF-8, which `TerminalSession` ensures.
public enum TextWidth {
  /// Columns taken by one grapheme cluster: 0, 1 or 2. Controls count as 1 because a `Frame`
  /// replaces them with U+FFFD before drawing.
  public static func of(_ character: Character) -> Int {
    let scalars = character.unicodeScalars
    guard let first = scalars.first else { return 0 }
    if first.value >= 0x20 && first.value < 0x7F && scalars.count == 1 { return 1 }
    let w = Int(bv_wcwidth(first.value))
    if w < 0 { return 1 }
    if w == 2 { return 2 }
    // An emoji presentation selector (U+FE0F) widens a text-default symbol to two columns;
    // a base that is itself zero-width (a stray combining mark) draws as nothing.
    if scalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
    if w == 0 {
      return scalars.dropFirst().map { Int(bv_wcwidth($0.value)) }.max().map { max(0, $0) } ?? 0
    }
    return w
  }

  /// Columns taken by `text`.
  public static func of(_ text: String) -> Int {
    var total = 0
    for c in text { total += of(c) }
    return total
  }

  /// `text` cut to at most `width` columns; when cut, its last column is `ellipsis` so the
  /// reader knows there is more.
  public static func truncated(_ text: String, to width: Int, ellipsis: Character = "…") -> String {
    guard width > 0 else { return "" }
    if of(text) <= width { return text }
    var out = ""
    var used = 0
    let room = width - of(ellipsis)
    for c in text {
      let w = of(c)
      if used + w > room { break }
      out.append(c)
      used += w
    }
    out.append(ellipsis)
    return out
  }

  /// `text` padded with spaces (or cut) to exactly `width` columns.
  public static func padded(_ text: String, to width: Int) -> String {
    let cut = truncated(text, to: width)
    let w = of(cut)
    return w >= width ? cut : cut + String(repeating: " ", count: width - w)
  }
}
