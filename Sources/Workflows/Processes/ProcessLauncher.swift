import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Starts the background `blastview` processes of a workspace, `train --job ID` and
/// `predict --all-cases`: each in its own session (so the review app's Ctrl-C and terminal
/// hang-up do not reach it, and it outlives the app), standard input from /dev/null, output
/// appended to a log under `<workspace>/logs/`. The caller reaps the returned pid.
public struct ProcessLauncher: Sendable {
  /// The `blastview` executable (default: this process's own, from /proc/self/exe).
  public var executable: String

  public init(executable: String? = nil) {
    self.executable = executable ?? ProcessLauncher.ownExecutable
  }

  public static var ownExecutable: String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return CommandLine.arguments.first ?? "blastview" }
    return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// `blastview train --job ID`, logged to `logs/train-job-<ID>.log`.
  public func launch(job: Int64, workspace: String) -> Result<Int32, LaunchError> {
    spawn(
      ["train", "--job", String(job), "--workspace", workspace], log: workspace + "/logs/train-job-\(job).log"
    )
  }

  /// `blastview predict --all-cases` for the promoted model `version`, logged to
  /// `logs/predict-v<version>.log`.
  public func launchPredictions(version: Int64, workspace: String) -> Result<Int32, LaunchError> {
    spawn(
      ["predict", "--all-cases", "--workspace", workspace], log: workspace + "/logs/predict-v\(version).log")
  }

  /// Starts `executable arguments...` in the background the same way (own session, default
  /// signals, output appended to `log`, whose directory is made when missing).
  public func spawn(_ args: [String], log: String) -> Result<Int32, LaunchError> {
    try? FileManager.default.createDirectory(
      atPath: (log as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    let arguments = [executable] + args
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // Default signal dispositions and an empty mask: the app blocks or catches some signals, and
    // the trainer's Ctrl-C handling must work.
    var all = sigset_t()
    sigfillset(&all)
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setsigmask(&attributes, &none)
    // POSIX_SPAWN_SETSID is glibc's 0x80, behind _GNU_SOURCE, which Swift does not define.
    let setsid: Int32 = 0x80
    posix_spawnattr_setflags(&attributes, Int16(setsid | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
    var cArguments = arguments.map { strdup($0) } + [nil]
    defer { for p in cArguments { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, executable, &actions, &attributes, &cArguments, environ)
    guard rc == 0 else {
      return .failure(LaunchError(message: "cannot start \(executable): \(String(cString: strerror(rc)))"))
    }
    return .success(pid)
  }
}

public struct LaunchError: Error, Equatable, Sendable {
  public var message: String

  public init(message: String) { self.message = message }
}
