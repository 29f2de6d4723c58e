import Foundation
import MTACNN
import NeuralEngine
import Terminal
import Workflows

/// The `training` metadata `train` writes into its checkpoint: the command, the settings, the
/// data and the epochs so far (docs/checkpoint-format.md).
struct TrainingRecord {
  let command: String
  let fields: [String: Any]
  let started: Date
  var history: [EpochRecord] = []

  init(
    command train: TrainCommand, started: Date, options: TrainingOptions, model: MTACNNModel,
    frozen: Set<ModelTask>, data: TrainingExamples
  ) {
    command = CommandLine.arguments.map { Sanitizer.sanitize($0) }.joined(separator: " ")
    self.started = started
    var r: [String: Any] = [
      "seed": Int(train.seed), "split_seed": Int(train.folder.splitSeed), "epochs": train.epochs,
      "batch": train.batch, "lr": Double(train.lr), "lr_schedule": train.lrSchedule,
      "patience": train.patience,
      "augment": (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(options.augmentation))) ?? [:],
      "tasks": model.tasks.map(\.rawValue), "freeze": frozen.sorted().map(\.rawValue),
      "trained_tasks": model.trainedTasks.map(\.rawValue), "threads": Threads.count,
      "train_images": data.train.count, "val_images": data.validation.count, "blastview": BlastView.version,
      "started": ISO8601DateFormatter().string(from: started),
    ]
    if model.tasks.contains(.seg) {
      r["mask_loss"] = options.maskLoss.rawValue
      r["expert_mask_weight"] = Double(options.expertMaskWeight)
    }
    r["dropout_order"] = options.dropoutOrder.rawValue
    r["bn_recalibration"] = options.batchNormRecalibration.rawValue
    if options.batchNormRecalibration != .off { r["bn_recalibration_batches"] = options.recalibrationBatches }
    if let w = options.classWeights { r["class_weights"] = w.map(Double.init) }
    for (k, v) in data.source { r[k] = v }
    if let initFrom = train.initFrom { r["init"] = absolute(initFrom) }
    fields = r
  }

  /// The record as JSON, with `best`'s figures, and `pending` (the epoch being saved, not yet in
  /// the history) counted in the history.
  func json(best: EpochRecord?, including pending: EpochRecord? = nil) -> String {
    var r = fields
    r["command"] = command
    r["seconds"] = Date().timeIntervalSince(started)
    r["history"] = (history + (pending.map { [$0] } ?? [])).map {
      (try? JSONSerialization.jsonObject(with: JSONEncoder().encode($0))) ?? [:]
    }
    if let b = best {
      r["best_epoch"] = b.epoch
      r["val_loss"] = b.validationLoss ?? NSNull()
      r["val_accuracy"] = b.validationAccuracy ?? NSNull()
      r["val_macro_f1"] = b.validationMacroF1 ?? NSNull()
      r["val_dice"] = b.validationDice ?? NSNull()
    }
    let data = (try? JSONSerialization.data(withJSONObject: r, options: [.sortedKeys])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
  }
}
