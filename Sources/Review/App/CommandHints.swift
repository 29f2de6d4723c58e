import Terminal

/// The command lines the app prints as hints ("blastview rater set-role …"), runnable as
/// printed: the workspace's full path follows the subcommand and every word is shell-quoted
/// (issue 18, item 8: hints without `--workspace` failed when pasted in another directory).
extension View {
  /// `blastview SUBCOMMAND… --workspace PATH ARGUMENTS…`. `subcommand` is the command words
  /// (e.g. `["rater", "set-role"]`); `arguments` follow the workspace option. Placeholders the
  /// user fills in (FILE, NAME) are passed in `placeholders`, unquoted, at the end.
  static func command(
    _ s: AppState, _ subcommand: [String], _ arguments: [String] = [], placeholders: String? = nil
  ) -> String {
    var words = ["blastview"] + subcommand
    if !s.workspacePath.isEmpty { words += ["--workspace", s.workspacePath] }
    let text = ShellWord.command(words + arguments)
    return placeholders.map { text + " " + $0 } ?? text
  }
}
