import Foundation
import Terminal

/// Number formats of the CLI's text output. Anything that came from a file or a user (file
/// names, labels, rater and session names, decoder messages) passes through Terminal's
/// `Sanitizer` before it is printed, so an image named `\e]0;pwned\a.png` cannot retitle or
/// clear the terminal; JSON goes through `JSONOutput`, which escapes the same characters.
enum CLIText {
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
  init(_ error: any Error) { description = Sanitizer.sanitize(String(describing: error), mode: .text) }
  init(message: String) { description = Sanitizer.sanitize(message, mode: .text) }
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
