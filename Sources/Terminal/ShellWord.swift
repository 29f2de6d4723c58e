import Foundation

/// Commands the app prints for the user to paste into a shell: each word single-quoted when
/// it holds anything but plain path characters, so a hint is runnable exactly as printed
/// (issue 18: hints that dropped `--workspace` or a quote failed when pasted elsewhere).
public enum ShellWord {
  /// `s` as one shell word: unchanged when it is plain, else single-quoted (a `'` inside
  /// becomes `'\''`). The result is also passed through the sanitiser, so a word from a file
  /// or a user can never carry a control sequence to the terminal.
  public static func quoted(_ s: String) -> String {
    let plain =
      !s.isEmpty
      && s.unicodeScalars.allSatisfy {
        CharacterSet.alphanumerics.contains($0) || "/._-+:,@%=".unicodeScalars.contains($0)
      }
    return Sanitizer.sanitize(plain ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'")
  }

  /// A command line: each word quoted as needed, joined by spaces.
  public static func command(_ words: [String]) -> String { words.map(quoted).joined(separator: " ") }
}
