import ArgumentParser
import MTACNN
import Terminal

/// `train`'s segmentation options of issue 17: the segmentation column's full-resolution stem, the
/// mask loss, and how much expert masks weigh against weak ones.
struct SegmentationTrainingOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Give a new segmentation task its own full-resolution stem of C channels (issue 17; default none).",
      valueName: "C"))
  var segStem: Int?

  @Option(help: "Mask loss: focal (DESIGN §4) or dice-bce (per-image BCE + soft Dice).")
  var maskLoss = "focal"

  @Option(
    help: ArgumentHelp(
      "With --mask-loss dice-bce: the weight of an expert mask against a weak (colour-threshold) one (default 1).",
      valueName: "W"))
  var expertWeight: Float?

  func validateOptions() throws {
    if let segStem, !(1...1024).contains(segStem) {
      throw ValidationError("--seg-stem must be in 1...1024, got \(segStem)")
    }
    guard let loss = MaskLoss(rawValue: maskLoss) else {
      throw ValidationError("--mask-loss must be focal or dice-bce, got \(Sanitizer.sanitize(maskLoss))")
    }
    if let expertWeight {
      guard expertWeight > 0, expertWeight.isFinite else {
        throw ValidationError("--expert-weight must be a positive number")
      }
      guard loss == .diceBCE else { throw ValidationError("--expert-weight needs --mask-loss dice-bce") }
    }
  }

  func apply(to options: inout TrainingOptions) {
    options.maskLoss = MaskLoss(rawValue: maskLoss) ?? .focal
    options.expertMaskWeight = expertWeight ?? 1
  }
}
