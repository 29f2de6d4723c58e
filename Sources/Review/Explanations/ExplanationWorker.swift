import CaseStore
import FileSafety
import Foundation
import Imaging
import MTACNN

/// Computes the case view's explanations off the UI thread (issue 9: LIME takes seconds). Jobs run
/// one at a time on a background queue, in the order asked; results, LIME's progress and failures
/// go to an inbox that the app drains into `update` (`ReviewApp.drainBackground`).
///
/// Explanations are cached per (case, model version, method): in memory for the session, and as
/// files under the workspace's cache directory (`cache/explanations/`), so LIME is computed once
/// per case and model. A model version's file never changes once registered, and LIME is seeded,
/// so a cached explanation is the one a new computation would give.
///
/// Opening another case cancels the explanations of every other case still queued or running
/// (LIME stops at its next batch).
public final class ExplanationWorker: @unchecked Sendable {
  private let queue = DispatchQueue(label: "blastview.explanations", qos: .userInitiated)
  private let lock = NSLock()
  private let idle = NSCondition()
  private var inbox: [AppEvent] = []
  private var queued = 0
  private var memory: [ExplanationKey: ImageExplanation] = [:]
  private var memoryOrder: [ExplanationKey] = []
  private static let memoryLimit = 64
  /// Cancellation: jobs submitted at or before `cancelledThrough` are dropped unless their case is
  /// `survivor`.
  private var generation = 0
  private var cancelledThrough = 0
  private var survivor: Int64?
  /// The loaded model (touched only on `queue`).
  private var model: (version: Int64, file: String, net: MTACNNModel)?

  /// Where explanation files go; nil keeps them in memory only.
  public let cacheDirectory: String?
  /// LIME's settings (issue 9's defaults). Set on the UI thread and read by jobs on the worker's
  /// queue, so both go through the lock; a job uses the settings as they were when it started.
  public var request: ExplanationRequest {
    get {
      lock.lock()
      defer { lock.unlock() }
      return settings
    }
    set {
      lock.lock()
      settings = newValue
      lock.unlock()
    }
  }
  private var settings = ExplanationRequest(method: .lime)

  public init(cacheDirectory: String?) {
    self.cacheDirectory = cacheDirectory.map { $0 + "/explanations" }
  }

  /// Whether jobs are queued or running (the app then polls its inbox often).
  public var busy: Bool {
    lock.lock()
    defer { lock.unlock() }
    return queued > 0
  }

  /// Queues jobs; a job without a model file fails with a message.
  public func submit(_ jobs: [ExplanationJob]) {
    lock.lock()
    generation += 1
    let g = generation
    queued += jobs.count
    lock.unlock()
    for job in jobs {
      queue.async { [self] in
        run(job, generation: g)
        lock.lock()
        queued -= 1
        lock.unlock()
        idle.lock()
        idle.broadcast()
        idle.unlock()
      }
    }
  }

  /// Drops every queued or running job except those of case `keep`.
  public func cancel(keep: Int64?) {
    lock.lock()
    cancelledThrough = generation
    survivor = keep
    lock.unlock()
  }

  /// The events that arrived since the last call.
  public func drain() -> [AppEvent] {
    lock.lock()
    defer { lock.unlock() }
    let out = inbox
    inbox = []
    return out
  }

  /// Blocks until no job is queued or running, or `timeout` passed; true when idle.
  @discardableResult
  public func waitUntilIdle(timeout: TimeInterval) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    idle.lock()
    defer { idle.unlock() }
    while busy {
      if !idle.wait(until: deadline) { return !busy }
    }
    return true
  }

  /// The file a key's explanation is kept in.
  public func cacheFile(_ key: ExplanationKey) -> String? {
    cacheDirectory.map { $0 + "/\(key).json" }
  }

  private func post(_ e: ExplainEvent) {
    lock.lock()
    inbox.append(.explain(e))
    lock.unlock()
  }

  private func alive(_ key: ExplanationKey, generation g: Int) -> Bool {
    lock.lock()
    defer { lock.unlock() }
    return g > cancelledThrough || key.caseID == survivor
  }

  private func remember(_ key: ExplanationKey, _ e: ImageExplanation) {
    lock.lock()
    defer { lock.unlock() }
    if memory[key] == nil { memoryOrder.append(key) }
    memory[key] = e
    if memoryOrder.count > Self.memoryLimit { memory[memoryOrder.removeFirst()] = nil }
  }

  private func remembered(_ key: ExplanationKey) -> ImageExplanation? {
    lock.lock()
    defer { lock.unlock() }
    return memory[key]
  }

  private struct Cancelled: Error {}

  private func run(_ job: ExplanationJob, generation g: Int) {
    let key = job.key
    guard alive(key, generation: g) else { return }
    if let e = remembered(key) {
      post(.ready(CaseExplanation(key: key, explanation: e), cached: true))
      return
    }
    if let file = cacheFile(key), CaseImages.ownCacheFolder(for: file),
      let data = try? SafeFile.read(file, maxBytes: 64 << 20),
      let e = try? JSONDecoder().decode(ImageExplanation.self, from: Data(data))
    {
      remember(key, e)
      post(.ready(CaseExplanation(key: key, explanation: e), cached: true))
      return
    }
    do {
      guard let file = job.modelFile else {
        throw ReviewExplanationError("model v\(key.modelVersion) is not registered")
      }
      if model?.version != key.modelVersion || model?.file != file {
        if let sha = job.modelSHA256, !CaseStore.fileMatches(path: file, sha256: sha) {
          throw ReviewExplanationError(
            "model v\(key.modelVersion): \(file) has changed since it was registered (its SHA-256 differs); not used"
          )
        }
        let (net, _) = try ModelCheckpoint.load(path: file)
        guard net.tasks.contains(.cls) else {
          throw ReviewExplanationError("model v\(key.modelVersion) has no classifier")
        }
        model = (key.modelVersion, file, net)
      }
      let net = model!.net
      let image =
        try job.image
        ?? job.imageSHA256.map { h throws(ImageError) in
          try CaseStore.decodeVerifiedImage(at: job.imagePath, sha256: h)
        } ?? decodeImage(at: job.imagePath)
      var r = request
      r.method = key.method
      let e = try Explainer(model: net).explain(image, r) { [self] done, total in
        guard alive(key, generation: g) else { throw Cancelled() }
        post(.progress(key, done: done, total: total))
      }
      remember(key, e)
      if let path = cacheFile(key), CaseImages.ownCacheFolder(for: path) {
        if let data = try? JSONEncoder().encode(e) { try? SafeFile.write(Array(data), to: path) }
      }
      post(.ready(CaseExplanation(key: key, explanation: e), cached: false))
    } catch is Cancelled {
      return
    } catch {
      post(.failed(key, String(describing: error)))
    }
  }
}

struct ReviewExplanationError: Error, CustomStringConvertible {
  let description: String
  init(_ d: String) { description = d }
}
