import Agreement
import CaseStore
import Foundation
import MTACNN

/// A model's figures on the workspace's validation split, as the gate compares them.
public struct ValidationScores: Codable, Equatable, Sendable {
  /// Validation cases with a label or a mask.
  public var cases: Int
  public var labelled: Int
  public var masked: Int
  /// Over the labelled cases (nil when there are none, or the model has no classifier).
  public var macroF1: Double?
  public var accuracy: Double?
  /// Mean per-image Dice over the masked cases at the model's input size (nil when none, or the
  /// model has no segmentation).
  public var dice: Double?
  /// The combined loss of every task of the model (classification + λ · mask), as training
  /// measures validation loss.
  public var loss: Double?

  public init(
    cases: Int, labelled: Int, masked: Int, macroF1: Double?, accuracy: Double?, dice: Double?,
    loss: Double? = nil
  ) {
    self.cases = cases
    self.labelled = labelled
    self.masked = masked
    self.macroF1 = macroF1
    self.accuracy = accuracy
    self.dice = dice
    self.loss = loss
  }

  enum CodingKeys: String, CodingKey {
    case cases, labelled, masked, accuracy, dice, loss
    case macroF1 = "macro_f1"
  }

  /// Scores a model on validation examples (made with its own preprocessing, S × S).
  public static func score(_ net: MTACNNModel, on examples: [Example], batch: Int = 16) -> ValidationScores {
    // Masks compared at S × S: the examples' masks are at the input size.
    let atInputSize = examples.map {
      var e = $0
      e.sourceWidth = net.size
      e.sourceHeight = net.size
      return e
    }
    let preds = Predictor(model: net, batchSize: batch).predict(examples: atInputSize)
    var truth: [Int] = []
    var predicted: [Int] = []
    var overlaps: [PixelOverlap] = []
    for (e, p) in zip(atInputSize, preds) {
      if let y = e.classIndex, let c = p.predictedClass {
        truth.append(y)
        predicted.append(c)
      }
      if let m = e.mask, let pm = p.nucleusMask, m.width == pm.width, m.height == pm.height {
        overlaps.append(PixelOverlap(truth: m, predicted: pm))
      }
    }
    var s = ValidationScores(
      cases: examples.count, labelled: truth.count, masked: overlaps.count, macroF1: nil, accuracy: nil,
      dice: nil)
    if !truth.isEmpty {
      let r = ClassificationReport(classes: net.schema.classes, truth: truth, predicted: predicted)
      s.macroF1 = r.macro.f1
      s.accuracy = r.accuracy
    }
    if !overlaps.isEmpty { s.dice = SegmentationReport(overlaps: overlaps).dice }
    // The loss as training measures it, over every task of the model.
    s.loss = ValidationLoss.measure(net, on: examples, batchSize: batch)
    return s
  }
}

/// How much evidence the gate asks for, and whether a model that passes is promoted by itself
/// (issue 18, item 5). Workspace settings `gate_min_labelled`, `gate_min_masked` and
/// `auto_promote` (`blastview model gate`); these defaults otherwise.
public struct GateSettings: Equatable, Sendable, Codable {
  /// Labelled validation cases a classification figure needs before it can promote a model.
  public var minimumLabelled = 20
  /// Validation cases with a mask a segmentation figure needs.
  public var minimumMasked = 10
  /// Off: a model that passes is proposed and a lead promotes it (`blastview model promote`).
  public var autoPromote = false

  public init(minimumLabelled: Int = 20, minimumMasked: Int = 10, autoPromote: Bool = false) {
    self.minimumLabelled = minimumLabelled
    self.minimumMasked = minimumMasked
    self.autoPromote = autoPromote
  }

  public static let minimumLabelledSetting = "gate_min_labelled"
  public static let minimumMaskedSetting = "gate_min_masked"
  public static let autoPromoteSetting = "auto_promote"

  enum CodingKeys: String, CodingKey {
    case minimumLabelled = "minimum_labelled"
    case minimumMasked = "minimum_masked"
    case autoPromote = "auto_promote"
  }

  /// The workspace's settings (defaults where unset or unreadable).
  public static func resolve(store: any ModelRegistryStore) -> GateSettings {
    var g = GateSettings()
    func int(_ key: String) -> Int? { (try? store.setting(key)).flatMap { $0 }.flatMap { Int($0) } }
    if let n = int(minimumLabelledSetting), n >= 1 { g.minimumLabelled = n }
    if let n = int(minimumMaskedSetting), n >= 1 { g.minimumMasked = n }
    g.autoPromote = ((try? store.setting(autoPromoteSetting)) ?? nil) == "on"
    return g
  }
}

/// The promotion gate of a retrained model (issues 8 and 18): it passes only if, on the
/// workspace's validation split, its macro-F1 is not worse than the promoted model's by more than
/// `tolerance`, and neither is its Dice where validation cases have masks, nor its loss by more
/// than `lossTolerance`. Both models are scored on the same cases with the labels and masks as
/// they are when the gate runs. Passing is not promoting: the figures must rest on enough cases
/// (`GateSettings`), a task the retraining trained must have validation data of its own (no Dice
/// is no evidence), and unless the workspace turned automatic promotion on, a lead confirms. A
/// model that passes but falls short of one of these is *proposed*: registered, not promoted.
public enum ValidationGate {
  /// `CaseStore.retrainGateTolerance` (0.01), which the review app states too.
  public static let tolerance = CaseStore.retrainGateTolerance
  /// `CaseStore.retrainGateLossTolerance` (5 %, relative).
  public static let lossTolerance = CaseStore.retrainGateLossTolerance

  public struct Decision: Codable, Equatable, Sendable {
    public var promote: Bool
    /// `promoted`, `proposed` (passed, but a lead must confirm) or `rejected` (worse, or not
    /// measurable).
    public var verdict: String
    public var reason: String
    public var tolerance: Double
    public var lossTolerance: Double
    public var candidate: ValidationScores
    public var current: ValidationScores?
    public var currentVersion: Int64?
    public var settings: GateSettings

    enum CodingKeys: String, CodingKey {
      case promote, verdict, reason, tolerance, candidate, current, settings
      case currentVersion = "current_version"
      case lossTolerance = "loss_tolerance"
    }
  }

  /// `trainedTasks`: the tasks the retraining trained (`MTACNNModel.Task` raw values, `cls`,
  /// `seg`); each needs validation data of its own to pass.
  public static func decide(
    candidate: ValidationScores, current: ValidationScores?, currentVersion: Int64?,
    tolerance: Double = tolerance, settings: GateSettings = GateSettings(), trainedTasks: [String] = []
  ) -> Decision {
    func decision(_ verdict: String, _ reason: String) -> Decision {
      Decision(
        promote: verdict == "promoted", verdict: verdict, reason: reason, tolerance: tolerance,
        lossTolerance: lossTolerance, candidate: candidate, current: current, currentVersion: currentVersion,
        settings: settings)
    }
    let tol = String(format: "%.2f", tolerance)
    let nl = "n \(candidate.labelled)"
    let nm = "n \(candidate.masked)"
    guard let f1 = candidate.macroF1 else {
      return decision("rejected", "no labelled validation case to measure macro-F1 on: kept unpromoted")
    }
    var parts: [String] = []
    if let current, let currentVersion {
      let name = "v\(currentVersion)"
      if let cf1 = current.macroF1 {
        if f1 < cf1 - tolerance {
          return decision(
            "rejected",
            String(
              format: "macro-F1 %.3f is worse than %@'s %.3f by more than %@ (%@)", f1, name, cf1, tol, nl))
        }
        parts.append(String(format: "macro-F1 %.3f vs %@'s %.3f (%@)", f1, name, cf1, nl))
      } else {
        parts.append(String(format: "macro-F1 %.3f (%@; %@ has none)", f1, nl, name))
      }
      if let cd = current.dice {
        guard let d = candidate.dice else {
          return decision(
            "rejected", "no Dice (the candidate has no segmentation), \(name) has one: kept unpromoted")
        }
        if d < cd - tolerance {
          return decision(
            "rejected",
            String(format: "Dice %.3f is worse than %@'s %.3f by more than %@ (%@)", d, name, cd, tol, nm))
        }
        parts.append(String(format: "Dice %.3f vs %.3f (%@)", d, cd, nm))
      }
      if let cl = current.loss, let l = candidate.loss {
        if l > cl * (1 + lossTolerance) {
          return decision(
            "rejected",
            String(
              format:
                "validation loss %.3f is more than %.0f%% above %@'s %.3f (n %d; macro-F1 %.3f vs %.3f)", l,
              lossTolerance * 100, name, cl, candidate.cases, f1, current.macroF1 ?? .nan))
        }
        parts.append(String(format: "loss %.3f vs %.3f (n %d)", l, cl, candidate.cases))
      }
    } else {
      parts.append(String(format: "macro-F1 %.3f (%@); no model was promoted", f1, nl))
    }
    let figures = parts.joined(separator: ", ") + " (tolerance \(tol), loss +\(Int(lossTolerance * 100))%)"
    // Enough evidence for every task the retraining changed (classification always counts: it
    // is what the gate's first figure measures).
    var short: [String] = []
    if candidate.labelled < settings.minimumLabelled {
      short.append(
        "only \(candidate.labelled) labelled validation case\(candidate.labelled == 1 ? "" : "s") "
          + "(at least \(settings.minimumLabelled) needed)")
    }
    if trainedTasks.contains("seg") {
      if candidate.masked == 0 {
        short.append(
          "segmentation was retrained but no validation case has a mask, so nothing shows it is not worse")
      } else if candidate.masked < settings.minimumMasked {
        short.append(
          "only \(candidate.masked) validation case\(candidate.masked == 1 ? "" : "s") with a mask "
            + "(at least \(settings.minimumMasked) needed)")
      }
    }
    if !short.isEmpty {
      return decision("proposed", "proposed, not promoted: " + short.joined(separator: "; ") + "; " + figures)
    }
    if !settings.autoPromote {
      return decision(
        "proposed", "passed, proposed for a lead to promote (automatic promotion is off): " + figures)
    }
    return decision("promoted", figures)
  }
}
