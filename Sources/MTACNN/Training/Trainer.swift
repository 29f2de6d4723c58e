import Agreement
import Foundation
import Imaging
import NeuralEngine

/// How the learning rate changes over epochs.
public enum LearningRateSchedule: String, Sendable, Codable, CaseIterable {
  /// The same rate every epoch (DESIGN §4).
  case constant
  /// lr · ½(1 + cos(π · epoch / epochs)), epoch counted from 0 (as the reference's `--lr-schedule cosine`).
  case cosine

  public func rate(base: Float, epoch: Int, epochs: Int) -> Float {
    switch self {
    case .constant: return base
    case .cosine: return base * Float(0.5 * (1 + cos(Double.pi * Double(epoch) / Double(max(epochs, 1)))))
    }
  }
}

/// Settings of one training run (`blastview train`).
public struct TrainingOptions: Sendable {
  public var epochs = 50
  public var batchSize = 32
  public var learningRate: Float = 1e-3
  public var schedule = LearningRateSchedule.constant
  /// Early stopping: epochs without a lower validation loss before stopping.
  public var patience = 10
  public var seed: UInt64 = 0
  /// λ of the combined loss.
  public var lambda: Float = 1
  public var augmentation = AugmentationConfig.geometric
  /// Stop each epoch after this many batches (smoke tests).
  public var maxBatchesPerEpoch: Int?
  /// The mask loss (issue 17): DESIGN §4's focal loss or Dice + BCE.
  public var maskLoss = MaskLoss.focal
  /// With Dice + BCE: how much an expert mask weighs against a weak one (1: alike).
  public var expertMaskWeight: Float = 1
  /// Where the stages' dropout sits (issue 17; the paper's order by default).
  public var dropoutOrder = DropoutOrder.beforeNorm
  /// Batch-norm statistics recomputed without dropout after each epoch (issue 17).
  public var batchNormRecalibration = BatchNormRecalibration.off
  /// Training batches (of `batchSize`) the recalibration averages over.
  public var recalibrationBatches = 16
  /// Per-class weights of the classification loss, in schema order (nil: every image counts 1).
  public var classWeights: [Float]?

  public init() {}
}

/// Whether, after each epoch, the batch norms' running statistics are recomputed from training
/// batches without dropout (`MTACNNModel.recalibrateBatchNorm`) and validation scored with them.
public enum BatchNormRecalibration: String, Sendable, Codable, CaseIterable {
  case off
  /// Score validation both ways and record both; keep the running statistics as trained (the
  /// checkpoint and early stopping are those of `off`): the diagnostic.
  case report
  /// Keep the recalibrated statistics: early stopping uses the validation loss with them, and
  /// the checkpoint holds them.
  case apply
}

/// One epoch's figures (the log line, the JSON line, and the training curve issue 8 plots).
public struct EpochRecord: Codable, Sendable, Equatable {
  public var epoch: Int
  public var epochs: Int
  public var trainLoss: Double
  public var validationLoss: Double?
  public var validationAccuracy: Double?
  public var validationMacroF1: Double?
  public var validationDice: Double?
  public var learningRate: Double
  public var seconds: Double
  public var imagesPerSecond: Double
  /// Whether this epoch's checkpoint became the best (and was saved).
  public var improved: Bool
  /// Validation with the batch norms recalibrated without dropout (nil: not recalibrated).
  public var recalibratedValidationLoss: Double?
  public var recalibratedValidationAccuracy: Double?
  public var recalibratedValidationMacroF1: Double?

  enum CodingKeys: String, CodingKey {
    case epoch, epochs, seconds, improved
    case trainLoss = "train_loss"
    case validationLoss = "val_loss"
    case validationAccuracy = "val_accuracy"
    case validationMacroF1 = "val_macro_f1"
    case validationDice = "val_dice"
    case learningRate = "lr"
    case imagesPerSecond = "images_per_s"
    case recalibratedValidationLoss = "val_loss_recalibrated"
    case recalibratedValidationAccuracy = "val_accuracy_recalibrated"
    case recalibratedValidationMacroF1 = "val_macro_f1_recalibrated"
  }
}

/// What the trainer reports as it goes.
public enum TrainingEvent: Sendable {
  /// After every batch: position, the batch's loss, the epoch's throughput so far, and an estimate
  /// of the time left in the whole run (nil until one batch has been timed).
  case batch(
    epoch: Int, epochs: Int, batch: Int, batches: Int, loss: Float, imagesPerSecond: Double, eta: Double?)
  case validating(epoch: Int)
  case epoch(EpochRecord)
  case earlyStop(epoch: Int, bestEpoch: Int)
  case interrupted(epoch: Int, bestEpoch: Int?)
}

/// How a run ended.
public struct TrainingResult: Sendable {
  public enum Ending: String, Sendable, Codable {
    case completed
    case earlyStopped = "early_stopped"
    case interrupted
  }
  public var ending: Ending
  public var epochs: [EpochRecord]
  /// The epoch whose weights were saved (nil: nothing was saved).
  public var bestEpoch: Int?
  public var bestValidationLoss: Double?
  public var seconds: Double
}

/// A training run failed part-way; the best checkpoint so far (if any) is on disk.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
  public var message: String
  public var description: String { message }
}

/// The training loop (issue 4): seeded shuffling and augmentation, Adam, the combined loss over
/// the tasks that train, validation after each epoch, early stopping on validation loss keeping
/// the best checkpoint, and a clean stop on request (Ctrl-C) with the best checkpoint kept.
///
/// The test part is never given to the trainer: callers pass train and validation examples only.
public final class Trainer {
  public let model: MTACNNModel
  public let optimizer: Adam
  public let options: TrainingOptions
  public let loss: MultiTaskLoss
  let train: [Example]
  let validation: [Example]
  private let assembler: BatchAssembler
  private let evalAssembler: BatchAssembler

  /// The model must already be frozen as wanted (`MTACNNModel.freeze`); `optimizer` may hold
  /// restored state (`--init`).
  public init(
    model: MTACNNModel, optimizer: Adam, options: TrainingOptions, train: [Example], validation: [Example]
  ) throws(TrainingError) {
    guard !train.isEmpty else { throw TrainingError(message: "no training images") }
    guard options.epochs >= 1, options.batchSize >= 1, options.learningRate > 0, options.patience >= 1 else {
      throw TrainingError(
        message: "epochs, batch, patience must be at least 1 and the learning rate positive")
    }
    guard options.recalibrationBatches >= 1 else {
      throw TrainingError(message: "recalibration batches must be at least 1")
    }
    if let w = options.classWeights {
      guard w.count == model.schema.classes.count, w.allSatisfy({ $0.isFinite && $0 >= 0 }),
        w.contains(where: { $0 > 0 })
      else {
        throw TrainingError(
          message:
            "class weights \(w) must be \(model.schema.classes.count) non-negative numbers (\(model.schema.classes.joined(separator: ", "))), not all 0"
        )
      }
    }
    let trained = Set(model.trainedTasks)
    // An image with nothing for the tasks that train (no label when only cls trains, no mask when
    // only seg does) would only dilute the training batches. Validation keeps every image, so its
    // metrics cover the frozen task too.
    func useful(_ e: Example) -> Bool {
      (trained.contains(.cls) && e.classIndex != nil) || (trained.contains(.seg) && e.mask != nil)
    }
    let train = train.filter(useful)
    guard !train.isEmpty else {
      throw TrainingError(
        message:
          "no training image has a label or mask for the task(s) being trained (\(model.trainedTasks.map(\.rawValue).joined(separator: ", ")))"
      )
    }
    self.model = model
    self.optimizer = optimizer
    self.options = options
    self.train = train
    self.validation = validation
    guard options.expertMaskWeight > 0, options.expertMaskWeight.isFinite else {
      throw TrainingError(message: "the expert mask weight must be a positive number")
    }
    guard options.expertMaskWeight == 1 || options.maskLoss == .diceBCE else {
      throw TrainingError(message: "weighting expert masks needs the Dice + BCE mask loss")
    }
    loss = MultiTaskLoss(
      schema: model.schema, lambda: options.lambda, maskLoss: options.maskLoss,
      classWeights: options.classWeights)
    model.dropoutOrder = options.dropoutOrder
    // Validation weighs the masks as training does, so early stopping judges the same loss.
    let weight: Float? = options.maskLoss == .diceBCE ? options.expertMaskWeight : nil
    assembler = BatchAssembler(
      size: model.size, augmentation: options.augmentation, stain: model.configuration.stainNormalisation,
      expertMaskWeight: weight)
    evalAssembler = BatchAssembler(
      size: model.size, augmentation: nil, stain: model.configuration.stainNormalisation,
      expertMaskWeight: weight)
  }

  /// Batches per epoch: the last partial batch is dropped (batch norm, as the reference), unless
  /// the data are fewer than one batch.
  public var batchesPerEpoch: Int {
    let n = max(1, train.count / options.batchSize)
    return min(n, options.maxBatchesPerEpoch ?? n)
  }

  /// Runs the loop. `save(epoch, validationLoss, metrics)` writes the checkpoint whenever the
  /// validation loss improves (or, without validation data, after every epoch); `shouldStop` is
  /// polled after every batch.
  public func run(
    save: (EpochRecord) throws -> Void, events: (TrainingEvent) -> Void, shouldStop: () -> Bool
  ) throws -> TrainingResult {
    let trained = Set(model.trainedTasks)
    let start = monotonicSeconds()
    var records: [EpochRecord] = []
    var best: (epoch: Int, loss: Double)? = nil
    var stopping = EarlyStopping(patience: options.patience)
    var batchSeconds: Double? = nil
    var validationSeconds: Double? = nil
    let nb = batchesPerEpoch
    let bs = min(options.batchSize, train.count)
    for epoch in 0..<options.epochs {
      let lr = options.schedule.rate(base: options.learningRate, epoch: epoch, epochs: options.epochs)
      optimizer.learningRate = lr
      model.isTraining = true
      let order = permutation(train.count, seed: mixSeed(options.seed, UInt64(epoch), 0x5EED))
      var lossSum = 0.0
      var seen = 0
      let epochStart = monotonicSeconds()
      for b in 0..<nb {
        if shouldStop() {
          events(.interrupted(epoch: epoch + 1, bestEpoch: best?.epoch))
          return TrainingResult(
            ending: .interrupted, epochs: records, bestEpoch: best?.epoch, bestValidationLoss: best?.loss,
            seconds: monotonicSeconds() - start)
        }
        let t0 = monotonicSeconds()
        let idx = Array(order[(b * bs)..<min(order.count, (b + 1) * bs)])
        let seeds = idx.indices.map { mixSeed(options.seed, UInt64(epoch), UInt64(b * bs + $0)) }
        let (x, targets) = assembler.assemble(idx.map { train[$0] }, seeds: seeds)
        model.store.zeroGradients()
        let out = model.forward(x, heads: trained)
        let l = loss(out, targets, tasks: trained)
        guard l.total.isFinite else {
          throw TrainingError(
            message: "training diverged: the loss is \(l.total) at epoch \(epoch + 1), batch \(b + 1)"
              + (best.map { "; the best checkpoint (epoch \($0.epoch)) is kept" } ?? ""))
        }
        model.backward(classification: l.classificationGradient, mask: l.maskGradient)
        optimizer.step()
        lossSum += Double(l.total) * Double(idx.count)
        seen += idx.count
        let dt = monotonicSeconds() - t0
        batchSeconds = batchSeconds.map { 0.9 * $0 + 0.1 * dt } ?? dt
        let remainingBatches = (nb - b - 1) + (options.epochs - epoch - 1) * nb
        let remainingValidations = Double(options.epochs - epoch) * (validationSeconds ?? 0)
        let eta = batchSeconds.map { Double(remainingBatches) * $0 + remainingValidations }
        let rate = Double(seen) / max(monotonicSeconds() - epochStart, 1e-9)
        events(
          .batch(
            epoch: epoch + 1, epochs: options.epochs, batch: b + 1, batches: nb, loss: l.total,
            imagesPerSecond: rate, eta: eta))
      }
      let trainSeconds = monotonicSeconds() - epochStart
      events(.validating(epoch: epoch + 1))
      let v0 = monotonicSeconds()
      let val = validation.isEmpty ? nil : validate(tasks: trained)
      let recalibrated = val == nil ? nil : recalibrateAndValidate(epoch: epoch, tasks: trained)
      validationSeconds = monotonicSeconds() - v0
      var rec = EpochRecord(
        epoch: epoch + 1, epochs: options.epochs, trainLoss: lossSum / Double(max(seen, 1)),
        validationLoss: val?.loss, validationAccuracy: val?.accuracy, validationMacroF1: val?.macroF1,
        validationDice: val?.dice, learningRate: Double(lr), seconds: monotonicSeconds() - epochStart,
        imagesPerSecond: Double(seen) / max(trainSeconds, 1e-9), improved: false,
        recalibratedValidationLoss: recalibrated?.loss,
        recalibratedValidationAccuracy: recalibrated?.accuracy,
        recalibratedValidationMacroF1: recalibrated?.macroF1)
      // The loss that selects the checkpoint is that of the statistics the checkpoint holds.
      let selectionLoss = options.batchNormRecalibration == .apply ? recalibrated?.loss : val?.loss
      // Without validation data every epoch is kept (there is nothing to select on).
      let verdict = stopping.observe(epoch: epoch + 1, loss: selectionLoss ?? -Double(epoch))
      if verdict.improved {
        rec.improved = true
        try save(rec)
        best = (epoch + 1, val?.loss ?? rec.trainLoss)
      }
      records.append(rec)
      events(.epoch(rec))
      if verdict.stop, val != nil, epoch + 1 < options.epochs, let b = best {
        events(.earlyStop(epoch: epoch + 1, bestEpoch: b.epoch))
        return TrainingResult(
          ending: .earlyStopped, epochs: records, bestEpoch: b.epoch, bestValidationLoss: b.loss,
          seconds: monotonicSeconds() - start)
      }
    }
    return TrainingResult(
      ending: .completed, epochs: records, bestEpoch: best?.epoch, bestValidationLoss: best?.loss,
      seconds: monotonicSeconds() - start)
  }

  /// Issue 17: after an epoch (and its ordinary validation), recomputes the batch norms'
  /// statistics from `recalibrationBatches` seeded, augmented training batches with dropout off,
  /// and validates with them. `report` then puts the trained statistics back; `apply` keeps the
  /// new ones. Nil when recalibration is off.
  func recalibrateAndValidate(epoch: Int, tasks: Set<ModelTask>) -> (
    loss: Double, accuracy: Double?, macroF1: Double?, dice: Double?
  )? {
    guard options.batchNormRecalibration != .off else { return nil }
    let saved = model.runningStatistics()
    let bs = min(options.batchSize, train.count)
    let count = min(options.recalibrationBatches, max(1, train.count / bs))
    let order = permutation(train.count, seed: mixSeed(options.seed, UInt64(epoch), 0xBA7C))
    model.recalibrateBatchNorm(batches: count, heads: tasks) { k in
      let idx = Array(order[(k * bs)..<min(order.count, (k + 1) * bs)])
      let seeds = idx.indices.map { mixSeed(options.seed, UInt64(epoch), 0xBA7C, UInt64(k * bs + $0)) }
      return assembler.assemble(idx.map { train[$0] }, seeds: seeds).0
    }
    let result = validate(tasks: tasks)
    if options.batchNormRecalibration == .report { model.restoreRunningStatistics(saved) }
    return result
  }

  /// Validation in inference mode: the loss of the trained tasks (batches of the training batch
  /// size, so a = N_b/N_f is counted as in training), accuracy and macro-F1 over labelled images,
  /// mean Dice (probability ≥ 0.5) over masked ones.
  public func validate(tasks: Set<ModelTask>) -> (
    loss: Double, accuracy: Double?, macroF1: Double?, dice: Double?
  ) {
    model.isTraining = false
    var lossSum = 0.0
    var n = 0
    var truth: [Int] = []
    var predicted: [Int] = []
    var dice: [Double] = []
    let bs = options.batchSize
    var i = 0
    while i < validation.count {
      let batch = Array(validation[i..<min(validation.count, i + bs)])
      i += bs
      let (x, t) = evalAssembler.assemble(batch)
      let out = model.forward(x)
      let l = loss(out, t, tasks: tasks)
      lossSum += Double(l.total) * Double(batch.count)
      n += batch.count
      if let c = out.classification {
        for (j, p) in c.probabilities.enumerated() {
          guard let y = batch[j].classIndex else { continue }
          truth.append(y)
          predicted.append(p.indices.max { p[$0] < p[$1] }!)
        }
      }
      if let m = out.maskLogits {
        let plane = model.size * model.size
        for (j, ex) in batch.enumerated() {
          guard let tm = ex.mask else { continue }
          var predictedArea = 0
          var truthArea = 0
          var both = 0
          for k in 0..<plane {
            let a = m[j * plane + k] >= 0
            let b = tm.values[k] >= 128
            if a { predictedArea += 1 }
            if b { truthArea += 1 }
            if a && b { both += 1 }
          }
          dice.append(PixelOverlap(areaA: truthArea, areaB: predictedArea, intersection: both).scoredDice)
        }
      }
    }
    var accuracy: Double? = nil
    var f1: Double? = nil
    if !truth.isEmpty {
      let r = ClassificationReport(classes: model.schema.classes, truth: truth, predicted: predicted)
      accuracy = r.accuracy
      f1 = r.macro.f1
    }
    return (
      lossSum / Double(max(n, 1)), accuracy, f1, dice.isEmpty ? nil : dice.reduce(0, +) / Double(dice.count)
    )
  }
}

/// Early stopping on validation loss: an epoch improves when its loss is strictly lower than every
/// earlier one; training stops once `patience` epochs in a row have not improved. A NaN loss never
/// improves.
public struct EarlyStopping: Sendable, Equatable {
  public let patience: Int
  public private(set) var bestEpoch: Int?
  public private(set) var bestLoss = Double.infinity

  public init(patience: Int) {
    precondition(patience >= 1)
    self.patience = patience
  }

  public mutating func observe(epoch: Int, loss: Double) -> (improved: Bool, stop: Bool) {
    if loss < bestLoss {
      bestLoss = loss
      bestEpoch = epoch
      return (true, false)
    }
    return (false, epoch - (bestEpoch ?? 0) >= patience)
  }
}

/// A seeded Fisher-Yates permutation of 0..<n.
func permutation(_ n: Int, seed: UInt64) -> [Int] {
  var a = Array(0..<n)
  var rng = SplitMix64(seed: seed)
  if n > 1 {
    for i in stride(from: n - 1, to: 0, by: -1) {
      let j = Int(rng.next() % UInt64(i + 1))
      a.swapAt(i, j)
    }
  }
  return a
}
