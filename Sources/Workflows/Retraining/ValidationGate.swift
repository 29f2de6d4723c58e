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

/// The promotion gate of a retrained model (issue 8): it is promoted only if, on the workspace's
/// validation split, its macro-F1 is not worse than the promoted model's by more than
/// `tolerance`, and neither is its Dice where validation cases have masks. Both models are scored
/// on the same cases with the labels and masks as they are when the gate runs.
public enum ValidationGate {
  /// `CaseStore.retrainGateTolerance` (0.01), which the review app states too.
  public static let tolerance = CaseStore.retrainGateTolerance
  /// `CaseStore.retrainGateLossTolerance` (5 %, relative).
  public static let lossTolerance = CaseStore.retrainGateLossTolerance

  public struct Decision: Codable, Equatable, Sendable {
    public var promote: Bool
    public var reason: String
    public var tolerance: Double
    public var lossTolerance: Double
    public var candidate: ValidationScores
    public var current: ValidationScores?
    public var currentVersion: Int64?

    enum CodingKeys: String, CodingKey {
      case promote, reason, tolerance, candidate, current
      case currentVersion = "current_version"
      case lossTolerance = "loss_tolerance"
    }
  }

  public static func decide(
    candidate: ValidationScores, current: ValidationScores?, currentVersion: Int64?,
    tolerance: Double = tolerance
  ) -> Decision {
    func decision(_ promote: Bool, _ reason: String) -> Decision {
      Decision(
        promote: promote, reason: reason, tolerance: tolerance, lossTolerance: lossTolerance,
        candidate: candidate, current: current,
        currentVersion: currentVersion)
    }
    let tol = String(format: "%.2f", tolerance)
    guard let f1 = candidate.macroF1 else {
      return decision(false, "no labelled validation case to measure macro-F1 on: kept unpromoted")
    }
    guard let current, let currentVersion else {
      return decision(true, String(format: "macro-F1 %.3f; no model was promoted", f1))
    }
    let name = "v\(currentVersion)"
    var parts: [String] = []
    if let cf1 = current.macroF1 {
      if f1 < cf1 - tolerance {
        return decision(
          false, String(format: "macro-F1 %.3f is worse than %@'s %.3f by more than %@", f1, name, cf1, tol))
      }
      parts.append(String(format: "macro-F1 %.3f vs %@'s %.3f", f1, name, cf1))
    } else {
      parts.append(String(format: "macro-F1 %.3f (%@ has none)", f1, name))
    }
    if let cd = current.dice {
      guard let d = candidate.dice else {
        return decision(
          false, "no Dice (the candidate has no segmentation), \(name) has one: kept unpromoted")
      }
      if d < cd - tolerance {
        return decision(
          false, String(format: "Dice %.3f is worse than %@'s %.3f by more than %@", d, name, cd, tol))
      }
      parts.append(String(format: "Dice %.3f vs %.3f", d, cd))
    }
    if let cl = current.loss, let l = candidate.loss {
      if l > cl * (1 + lossTolerance) {
        return decision(
          false,
          String(
            format: "validation loss %.3f is more than %.0f%% above %@'s %.3f (macro-F1 %.3f vs %.3f)", l,
            lossTolerance * 100, name, cl, f1, current.macroF1 ?? .nan))
      }
      parts.append(String(format: "loss %.3f vs %.3f", l, cl))
    }
    return decision(
      true, parts.joined(separator: ", ") + " (tolerance \(tol), loss +\(Int(lossTolerance * 100))%)")
  }
}
