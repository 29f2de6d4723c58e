import NeuralEngine

/// The labels a batch carries. Each image may have a class, a mask, both or neither: it trains on
/// whichever it has (issue 4).
public struct BatchTargets {
  /// Class index per image, −1 when the image has no label.
  public var labels: [Int]
  /// Nucleus masks [B, 1, S, S] with 0/1 values (rows of images without a mask are ignored).
  public var masks: Tensor?
  /// Whether image i has a mask.
  public var hasMask: [Bool]
  /// Weight of image i's mask in the Dice + BCE loss (issue 17: expert masks over weak ones);
  /// nil: every mask weighs 1.
  public var maskWeights: [Float]?

  public init(labels: [Int], masks: Tensor?, hasMask: [Bool], maskWeights: [Float]? = nil) {
    self.labels = labels
    self.masks = masks
    self.hasMask = hasMask
    self.maskWeights = maskWeights
  }

  public var labelled: Int { labels.filter { $0 >= 0 }.count }
  public var masked: Int { hasMask.filter { $0 }.count }
}

/// The loss parts of one batch and their gradients with respect to the model's outputs.
public struct LossValue {
  /// cls + λ · mask over the parts present.
  public var total: Float
  /// Mean NLL over the labelled images (nil: no labelled image, or the task was not scored).
  public var classification: Float?
  /// The mask loss (focal or Dice + BCE) over the masked images (nil: none, or not scored).
  public var mask: Float?
  public var classificationGradient: ClassificationOutput?
  public var maskGradient: Tensor?
}

/// DESIGN §4's loss: the classification negative log-likelihood (hierarchical: BCE on malignant
/// plus subtype cross-entropy for malignant images; flat: softmax cross-entropy) plus λ times the
/// class-weighted binary focal loss, γ = 2, with a = N_b / N_f counted over the batch's masked
/// pixels. Images without a label or without a mask add nothing to that part; a part with no
/// image at all is left out (as the PyTorch reference's `total_loss`). With `maskLoss: .diceBCE`
/// (issue 17) the mask part is `DiceBCELoss`, weighted per image by the targets' `maskWeights`.
public final class MultiTaskLoss {
  public var lambda: Float
  public let maskLoss: MaskLoss
  private let hierarchical: HierarchicalLoss?
  private let flat: SoftmaxCrossEntropy?
  private let focal: BinaryFocalLoss
  private let diceBCE = DiceBCELoss()
  private var scaled = ReusableBuffer()

  /// `classWeights` (schema order) weight each labelled image's classification loss, and the
  /// mean is taken over the weights (PyTorch's weighted NLL), as the engine's losses do.
  public init(
    schema: ClassSchema, lambda: Float = 1, gamma: Float = 2, maskLoss: MaskLoss = .focal,
    classWeights: [Float]? = nil
  ) {
    self.lambda = lambda
    self.maskLoss = maskLoss
    precondition(
      classWeights == nil || classWeights!.count == schema.classes.count,
      "\(classWeights?.count ?? 0) class weights for \(schema.classes.count) classes")
    if schema.hierarchical {
      hierarchical = HierarchicalLoss(subtypes: schema.classes.count - 1, classWeights: classWeights)
      flat = nil
    } else {
      hierarchical = nil
      flat = SoftmaxCrossEntropy(classes: schema.classes.count, classWeights: classWeights)
    }
    focal = BinaryFocalLoss(gamma: gamma)
  }

  /// Scores the outputs of the tasks in `tasks` (the trained ones; a frozen task's loss cannot
  /// change anything that learns).
  public func callAsFunction(_ out: ModelOutput, _ t: BatchTargets, tasks: Set<ModelTask>) -> LossValue {
    var v = LossValue(total: 0)
    if tasks.contains(.cls), let c = out.classification, t.labelled > 0 {
      switch c {
      case .hierarchical(let m, let s):
        let r = hierarchical!(malignant: m, subtypes: s, labels: t.labels)
        v.classification = r.loss
        v.classificationGradient = .hierarchical(malignant: r.malignantGradient, subtypes: r.subtypeGradient)
      case .flat(let z):
        let r = flat!(z, labels: t.labels)
        v.classification = r.loss
        v.classificationGradient = .flat(logits: r.gradient)
      }
      v.total += v.classification!
    }
    if tasks.contains(.seg), let logits = out.maskLogits, let masks = t.masks, t.masked > 0 {
      let r: (loss: Float, gradient: Tensor)
      switch maskLoss {
      case .focal:
        precondition(t.maskWeights == nil, "mask weights need the Dice + BCE loss")
        let a = BinaryFocalLoss.balancedWeight(targets: masks, include: t.hasMask)
        r = focal(logits, targets: masks, positiveWeight: a, include: t.hasMask)
      case .diceBCE:
        r = diceBCE(logits, targets: masks, include: t.hasMask, weights: t.maskWeights)
      }
      v.mask = r.loss
      if lambda == 1 {
        v.maskGradient = r.gradient
      } else {
        let g = scaled.tensor(r.gradient.shape)
        for i in 0..<g.count { g[i] = lambda * r.gradient[i] }
        v.maskGradient = g
      }
      v.total += lambda * r.loss
    }
    return v
  }
}

/// The loss of the nucleus mask.
public enum MaskLoss: String, Sendable, Codable, CaseIterable {
  /// DESIGN §4's class-weighted binary focal loss (γ = 2, a = N_b/N_f).
  case focal
  /// Issue 17's per-image BCE + soft Dice (`DiceBCELoss`), with optional per-image weights.
  case diceBCE = "dice-bce"
}
