import CaseStore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Starts `blastview train --job ID` as a background process: its own session (so the review
/// app's Ctrl-C and terminal hang-up do not reach it, and it outlives the app), standard input
/// from /dev/null, output appended to `<workspace>/logs/train-job-<ID>.log`.
public struct TrainerLauncher: Sendable {
  /// The `blastview` executable (default: this process's own, from /proc/self/exe).
  public var executable: String

  public init(executable: String? = nil) {
    self.executable = executable ?? TrainerLauncher.ownExecutable
  }

  public static var ownExecutable: String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return CommandLine.arguments.first ?? "blastview" }
    return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  public func launch(job: Int64, workspace: String) -> Result<Int32, LaunchError> {
    spawn(
      ["train", "--job", String(job), "--workspace", workspace], log: workspace + "/logs/train-job-\(job).log"
    )
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
}

extension ReviewApp {
  /// Runs retraining effects against the store; the training itself is another process.
  func runRetrain(_ effect: RetrainEffect) throws(StoreError) -> [AppEvent] {
    reapTrainers()
    switch effect {
    case .loadStatus:
      _ = try store.reapDeadTrainingJobs()
      let promoted = try store.promotedModel()
      let status = RetrainStatus(
        job: try store.activeTrainingJob(),
        lastFinished: try store.trainingJobs(limit: 1).first { !$0.status.isActive },
        trainer: try store.trainerLockHolder(),
        corrections: try promoted.map { (m: ModelVersion) throws(StoreError) in
          try store.corrections(since: m)
        },
        promoted: promoted?.version, autoAfter: try store.autoRetrainAfter())
      return [.retrain(.statusLoaded(status))]
    case .queue(let reason):
      let request = try store.queueRetraining(reason: reason, by: rater)
      let job: TrainingJob
      switch request {
      case .queued(let j, _): job = j
      // A job left queued with no trainer (one that failed to start, or whose watcher was
      // stopped) would block every later T: give it a trainer.
      case .alreadyActive(let j) where j.status == .queued: job = j
      default: return [.retrain(.queued(request, launch: .none))]
      }
      // A trainer that holds the lock (train --watch) runs queued jobs itself.
      if let holder = try store.trainerLockHolder() {
        return [.retrain(.queued(request, launch: .handedTo(holder)))]
      }
      switch launcher.launch(job: job.id, workspace: store.workspace.directory) {
      case .success(let pid):
        trainerChildren.insert(pid)
        return [.retrain(.queued(request, launch: .started(pid: pid)))]
      case .failure(let e):
        return [.retrain(.queued(request, launch: .failed(e.message)))]
      }
    case .loadModels:
      return [.retrain(.modelsLoaded(try store.models(), try store.modelPromotions()))]
    case .promote(let version, let reason):
      try store.promote(version: version, by: rater, reason: reason)
      return [.retrain(.promoted(version: version, rollback: reason.hasPrefix("rolled back")))]
    }
  }

  /// Collects trainers this app started that have ended (no zombies left behind).
  func reapTrainers() {
    for pid in trainerChildren {
      var status: Int32 = 0
      if waitpid(pid, &status, WNOHANG) == pid { trainerChildren.remove(pid) }
    }
  }
}
