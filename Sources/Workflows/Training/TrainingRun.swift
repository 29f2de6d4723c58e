import Foundation
import MTACNN
import NeuralEngine

/// One training of a model to a checkpoint file: the pipeline that `blastview train`, each stage
/// of a retraining job (`train --job`) and through it the validation gate's candidate all go
/// through. The model comes made and frozen as wanted (`ModelRecipe`); the run adds Adam (with
/// the checkpoint's moments for the parameters that train, when it continues one), the trainer,
/// and writes the best epoch (by validation loss) to `out` with its record, Adam state and
/// colour reference.
public final class TrainingRun {
  public let model: MTACNNModel
  public let optimizer: Adam
  public let trainer: Trainer
  /// Parameter tensors whose Adam state came from the checkpoint continued from.
  public let continuedTensors: Int
  /// The validation examples: early stopping's, and the screening operating point's.
  let validation: [Example]
  /// The rule the continued checkpoint's operating point was chosen by (sensitivity target and
  /// specificity floor), so a retrained model's own point is chosen the same way; 0.995 and no
  /// floor without one.
  let screeningRule: (target: Double, minSpecificity: Double?)

  public init(
    model: MTACNNModel, continuing checkpoint: SafeTensorsFile?, options: TrainingOptions, train: [Example],
    validation: [Example]
  ) throws(WorkflowError) {
    let adam = Adam(model.store, learningRate: options.learningRate)
    self.model = model
    self.validation = validation
    let parentPoint = checkpoint.flatMap { try? ModelCheckpoint.metadata(of: $0).operatingPoint }
    screeningRule = (parentPoint?.targetSensitivity ?? 0.995, parentPoint?.minSpecificity)
    optimizer = adam
    do {
      continuedTensors = try checkpoint.map { try model.restoreOptimizer(adam, from: $0) } ?? 0
      trainer = try Trainer(
        model: model, optimizer: adam, options: options, train: train, validation: validation)
    } catch {
      throw WorkflowError(error)
    }
  }

  /// The colour warning's reference (issue 10): fitted on the training images and thresholded on
  /// validation, else the one `fallback` (the checkpoint trained from) carries.
  public static func colourReference(
    train: [Example], validation: [Example], fallback: SafeTensorsFile?
  ) -> ColourOutlierDetector? {
    if let fitted = ColourReference.fit(train: train, validation: validation) { return fitted }
    guard let fallback else { return nil }
    return try? ModelCheckpoint.metadata(of: fallback).colourReference
  }

  /// Trains until the last epoch, early stopping or `shouldStop`. Each improving epoch is saved
  /// at `out` with `record(epoch)` as the checkpoint's `training` metadata. Errors from the
  /// trainer or the file system come as they are.
  public func run(
    savingTo out: String, colourReference: ColourOutlierDetector?, record: (EpochRecord) -> String,
    events: (TrainingEvent) -> Void, shouldStop: () -> Bool
  ) throws -> TrainingResult {
    let result = try trainer.run(
      save: { epoch in
        try model.save(
          to: out, trainingJSON: record(epoch), optimizer: optimizer, colourReference: colourReference)
      },
      events: events, shouldStop: shouldStop)
    if result.bestEpoch != nil && model.schema.hierarchical {
      try Self.storeOperatingPoint(
        at: out, validation: validation, target: screeningRule.target,
        minSpecificity: screeningRule.minSpecificity)
    }
    return result
  }

  /// Issue 17: the screening operating point of the hierarchical checkpoint at `path`, chosen
  /// on the labelled validation examples for `target` sensitivity (as `eval --split val
  /// --set-operating-point` does), written into it; so a trained or retrained model carries
  /// its own, never its parent's (by its parent's rule). Without a malignant validation image it
  /// has none.
  public static func storeOperatingPoint(
    at path: String, validation: [Example], target: Double = 0.995, minSpecificity: Double? = nil
  ) throws {
    let labelled = validation.filter { $0.classIndex != nil }
    let (net, _) = try ModelCheckpoint.load(path: path)
    let predictions = Predictor(model: net).predict(examples: labelled)
    let point = OperatingPoint.choose(
      pMalignant: predictions.map { $0.pMalignant ?? 0 }, isMalignant: labelled.map { $0.classIndex != 0 },
      targetSensitivity: target, split: "val",
      command: "chosen at the end of training on its validation split ("
        + (minSpecificity.map { "sensitivity >= \(target), specificity >= \($0)" }
          ?? "sensitivity >= \(target)")
        + ")", minSpecificity: minSpecificity)
    try ModelCheckpoint.rewriteMetadata(path: path) { $0[OperatingPoint.metadataKey] = point?.encoded() }
  }
}
