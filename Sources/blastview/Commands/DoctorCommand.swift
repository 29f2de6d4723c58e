import ArgumentParser
import Foundation
import Terminal

/// `blastview doctor [--json]`: checks the libraries, the terminal and the workspace.
struct DoctorCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "doctor",
    abstract: "Check the libraries, the terminal and the workspace.",
    discussion: """
      Reports the versions of ncurses, libsixel, libpng, libjpeg and OpenBLAS (with its \
      CPU core type and thread count), exercises each, reports the terminal (TERM, \
      COLORTERM, tmux, SSH and, when standard output is a terminal, whether it answers the \
      device attributes query with sixel support, and its cell size in pixels), and the \
      workspace. Exits with status 1, and says how to fix it, when something required is \
      missing.
      """)

  @Flag(help: "Print the report as JSON.")
  var json = false

  @OptionGroup var workspace: WorkspaceOptions

  @Option(help: ArgumentHelp("How long to wait for the terminal's answer.", valueName: "ms"))
  var probeTimeout: Int = 200

  func validate() throws {
    guard (0...5000).contains(probeTimeout) else {
      throw ValidationError("--probe-timeout must be between 0 and 5000 ms, not \(probeTimeout)")
    }
  }

  func run() throws {
    let source = Doctor.workspaceSource(
      option: workspace.workspace, environment: ProcessInfo.processInfo.environment)
    let report = Doctor.run(
      workspace: (workspace.resolved.directory, source), probeTimeoutMilliseconds: probeTimeout)
    if json {
      try JSONOutput.print(report)
    } else {
      print(DoctorText.render(report))
    }
    if !report.ok { throw ExitCode(1) }
  }
}

/// The human-readable doctor report. Every value that came from outside (environment,
/// paths) goes through the `Sanitizer`.
enum DoctorText {
  static func render(_ r: DoctorReport) -> String {
    let caps = r.terminal.capabilities
    func safe(_ s: String?) -> String { s.map(Sanitizer.sanitize(_:)) ?? "(not set)" }
    func yesNo(_ b: Bool?) -> String { b.map { $0 ? "yes" : "no" } ?? "unknown" }
    var lines: [String] = []
    lines.append("blastview \(r.blastview)")
    lines.append("")
    lines.append("Libraries")
    lines.append("  ncurses     \(r.libraries.ncurses)")
    lines.append("  libsixel    \(r.libraries.libsixel)")
    lines.append("  libpng      \(r.libraries.libpng)")
    lines.append("  libjpeg     \(r.libraries.libjpeg)")
    lines.append(
      "  OpenBLAS    \(r.openblas.version), core \(r.openblas.coreType), \(r.openblas.threads) threads (\(r.openblas.parallel))"
    )
    lines.append("")
    lines.append("Terminal")
    lines.append("  TERM        \(safe(caps.term))")
    lines.append("  COLORTERM   \(safe(caps.colorTerm))")
    lines.append(
      "  tmux        \(caps.inTmux ? "yes" + (caps.tmuxVersion.map { " " + Sanitizer.sanitize($0) } ?? "") : "no")"
    )
    lines.append("  over SSH    \(caps.overSSH ? "yes" : "no")")
    lines.append("  a terminal  \(caps.isTTY ? "yes" : "no (standard output is redirected)")")
    if caps.isTTY {
      let attrs = caps.deviceAttributes.map { $0.map(String.init).joined(separator: ";") } ?? "no answer"
      lines.append("  sixel       \(yesNo(caps.sixel)) (device attributes: \(attrs))")
      let cell =
        (caps.cellWidthPx != nil && caps.cellHeightPx != nil)
        ? "\(caps.cellWidthPx!)x\(caps.cellHeightPx!) pixels" : "unknown"
      let size = (caps.columns != nil && caps.rows != nil) ? "\(caps.columns!)x\(caps.rows!)" : "unknown"
      lines.append("  size        \(size) cells; cell \(cell)")
    }
    lines.append("  graphics    \(r.terminal.graphics.rawValue) (\(r.terminal.graphicsReason))")
    lines.append("")
    lines.append("Workspace")
    lines.append("  path        \(Sanitizer.sanitize(r.workspace.path)) (\(r.workspace.source.rawValue))")
    lines.append("  exists      \(r.workspace.exists ? "yes" : "no")")
    lines.append("")
    lines.append("Checks")
    for c in r.checks {
      let mark: String
      switch c.status {
      case .ok: mark = "ok  "
      case .info: mark = "info"
      case .warning: mark = "warn"
      case .error: mark = "FAIL"
      }
      lines.append("  [\(mark)] \(c.name): \(Sanitizer.sanitize(c.detail))")
      if let fix = c.fix, c.status == .error || c.status == .warning {
        lines.append("         fix: \(Sanitizer.sanitize(fix))")
      }
    }
    lines.append("")
    lines.append(
      r.ok ? "All required parts work." : "Something required is missing or broken; see FAIL above.")
    return lines.joined(separator: "\n")
  }
}
