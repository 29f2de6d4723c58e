/// Text that came from outside the program (environment variables, file names, file
/// contents) made safe to print: C0 and C1 control characters and DEL are shown as
/// `\u{1b}`-style escapes, so such text can never move the cursor, change colours or send
/// an escape sequence to the terminal.
public func terminalSafe(_ text: String) -> String {
  var out = ""
  out.reserveCapacity(text.utf8.count)
  for scalar in text.unicodeScalars {
    let v = scalar.value
    if v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) {
      out += "\\u{" + String(v, radix: 16) + "}"
    } else {
      out.unicodeScalars.append(scalar)
    }
  }
  return out
}
