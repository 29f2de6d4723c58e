import CaseStore
import Foundation
import Imaging
import MTACNN

/// The case view's explanation overlay and detection boxes (issue 9): the keys, effects, events
/// and state, carried by one case of each central enum (`Action.explain`, `Effect.explain`,
/// `AppEvent.explain`) so the screens add to them in one line each.
public enum ExplainAction: Equatable, Hashable, Sendable {
  /// `e`: the explanation overlay (Grad-CAM at once, LIME when ready).
  case toggleExplanation
  /// `d`: the nucleus boxes and count from NMS.
  case toggleDetections
}

/// Which explanation: a case, the model version that explains it, and the method. Explanations are
/// cached under it (in memory, and in the workspace's cache directory).
public struct ExplanationKey: Hashable, Sendable, CustomStringConvertible {
  public var caseID: Int64
  public var modelVersion: Int64
  public var method: ExplanationMethod

  public init(caseID: Int64, modelVersion: Int64, method: ExplanationMethod) {
    self.caseID = caseID
    self.modelVersion = modelVersion
    self.method = method
  }

  public var description: String { "case\(caseID)-v\(modelVersion)-\(method.rawValue)" }
}

/// A finished explanation of a case. Equal when their keys are: the state compares cheaply, and
/// one key always holds the same explanation (same image, model and seed).
public struct CaseExplanation: Equatable, Sendable {
  public var key: ExplanationKey
  public var explanation: ImageExplanation

  public init(key: ExplanationKey, explanation: ImageExplanation) {
    self.key = key
    self.explanation = explanation
  }

  public static func == (a: CaseExplanation, b: CaseExplanation) -> Bool { a.key == b.key }
}

/// One explanation to compute, with what the worker needs to do it off the UI thread.
public struct ExplanationJob: Equatable, Sendable {
  public var key: ExplanationKey
  public var imagePath: String
  /// The registered model file of `key.modelVersion`, resolved by the runner.
  public var modelFile: String?
  /// The case image's recorded SHA-256: the worker refuses an image replaced since import.
  public var imageSHA256: String?
  /// The registered model file's SHA-256, resolved with `modelFile`: a file replaced in place
  /// is refused, never used to explain under this version.
  public var modelSHA256: String?
  /// The case image, read through the store and verified by the runner (a shared workspace's
  /// `imagePath` is a content address, no file); nil: the worker reads `imagePath`.
  public var image: RGBImage? = nil

  public init(
    key: ExplanationKey, imagePath: String, modelFile: String? = nil, imageSHA256: String? = nil,
    modelSHA256: String? = nil
  ) {
    self.key = key
    self.imagePath = imagePath
    self.modelFile = modelFile
    self.imageSHA256 = imageSHA256
    self.modelSHA256 = modelSHA256
  }
}

public enum ExplainEffect: Equatable, Sendable {
  /// Compute (or fetch from the cache) these explanations, in order, in the background.
  case explain([ExplanationJob])
  /// Stop background explanations of every case but `keep` (nil: all of them).
  case cancel(keep: Int64?)
}

public enum ExplainEvent: Equatable, Sendable {
  case ready(CaseExplanation, cached: Bool)
  /// LIME's progress: perturbed images evaluated so far.
  case progress(ExplanationKey, done: Int, total: Int)
  case failed(ExplanationKey, String)
}

/// The case view's explanation toggles and what they show.
public struct ExplanationState: Equatable, Sendable {
  public var showExplanation = false
  public var showDetections = false
  /// The best explanation so far of the case in view: Grad-CAM until LIME replaces it.
  public var current: CaseExplanation?
  /// LIME being computed: its key and progress.
  public var pending: ExplanationKey?
  public var done = 0
  public var total = 0
  /// Why the last explanation failed (shown in the legend).
  public var failure: String?

  public init() {}

  /// The explanation to draw for case `id`, if one is ready.
  public func shown(for id: Int64) -> CaseExplanation? {
    guard showExplanation, let c = current, c.key.caseID == id else { return nil }
    return c
  }
}
