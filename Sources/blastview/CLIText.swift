import Foundation

/// Text the CLI prints: anything that came from a file or a user (file names, labels,
/// rater and session names, decoder messages) passes through `CLIText.safe` first, so an
/// image named `\e]0;pwned\a.png` cannot retitle or clear the terminal. The TUI has its
/// own sanitiser in `Terminal`; this one is for line-oriented CLI output. JSON output needs
/// none: `JSONEncoder` escapes control characters.
enum CLIText {
  /// Escapes C0 and C1 control characters, DEL, and the Unicode bidirectional controls
  /// (which can reorder what a line appears to say) as `\u{..}`.
  static func safe(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for s in text.unicodeScalars {
      let v = s.value
      let control = v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v)
      let bidi =
        (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) || v == 0x200E || v == 0x200F
        || v == 0x061C
      if control || bidi {
        out += "\\u{" + String(v, radix: 16) + "}"
      } else {
        out.unicodeScalars.append(s)
      }
    }
    return out
  }

  /// Prints a value as pretty, key-sorted JSON on stdout.
  static func printJSON<T: Encodable>(_ value: T) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    enc.dateEncodingStrategy = .iso8601
    print(String(decoding: try enc.encode(value), as: UTF8.self))
  }

  /// 12345 → "12,345".
  static func count(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, c) in s.reversed().enumerated() {
      if i > 0 && i % 3 == 0 && c != "-" { out.append(",") }
      out.append(c)
    }
    return String(out.reversed())
  }
}

/// An error whose message is already safe to print.
struct CLIError: Error, CustomStringConvertible {
  let description: String
  init(_ error: any Error) { description = CLIText.safe(String(describing: error)) }
  init(message: String) { description = CLIText.safe(message) }
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal and at most ten
/// times a second.
final class ProgressBar {
  private let enabled: Bool
  private var last = Date.distantPast
  private let label: String

  init(label: String, enabled: Bool = isatty(STDERR_FILENO) == 1) {
    self.label = label
    self.enabled = enabled
  }

  func update(done: Int, total: Int) {
    guard enabled, Date().timeIntervalSince(last) > 0.1 || done == total else { return }
    last = Date()
    let width = 30
    let filled = total == 0 ? width : min(width, done * width / max(total, 1))
    let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
    FileHandle.standardError.write(
      Data("\r\(label) [\(bar)] \(CLIText.count(done))/\(CLIText.count(total))".utf8))
  }

  func finish() {
    guard enabled else { return }
    FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
  }
}
