import Foundation
import Imaging
import NeuralEngine
import Testing

@testable import MTACNN

/// Issue 17's instability experiment: the after-norm dropout order (forward and backward), the
/// batch-norm recalibration without dropout, and that neither disturbs what it must not.
@Suite struct DropoutVarianceShiftTests {
  /// The small classification network of `FreezingTests` with a given dropout probability.
  static func model(dropout: Double, seed: UInt64 = 3) throws -> MTACNNModel {
    var c = FreezingTests.configuration(tasks: [.cls], from: [:])
    c.dropout = dropout
    return try MTACNNModel(configuration: c, seed: seed)
  }

  /// Per-channel mean and unbiased variance of an [N, C, H, W] tensor, in Double.
  static func channelStatistics(_ t: Tensor) -> (mean: [Double], variance: [Double]) {
    let (n, c, hw) = (t.shape[0], t.shape[1], t.shape[2] * t.shape[3])
    var mean = [Double](repeating: 0, count: c)
    var variance = [Double](repeating: 0, count: c)
    for ch in 0..<c {
      var values: [Double] = []
      for i in 0..<n { for k in 0..<hw { values.append(Double(t[(i * c + ch) * hw + k])) } }
      let m = values.reduce(0, +) / Double(values.count)
      mean[ch] = m
      variance[ch] = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)
    }
    return (mean, variance)
  }

  static func batches(_ count: Int) -> [Tensor] {
    let assembler = BatchAssembler(size: FreezingTests.size, augmentation: nil, stain: nil)
    let ex = FreezingTests.examples(4 * count, seed: 21)
    return (0..<count).map { k in
      let (x, _) = assembler.assemble(Array(ex[(4 * k)..<(4 * k + 4)]))
      let copy = Tensor(shape: x.shape)
      copy.copy(from: x)
      return copy
    }
  }

  /// After-norm: the stages' features in training mode are those of a network without dropout
  /// (the same weights: initial values do not depend on the dropout probability), while the
  /// paper's order differs; the head keeps its dropout.
  @Test func afterNormRemovesTheStageDropoutOnly() throws {
    let x = FreezingTests.batch
    let noDropout = try Self.model(dropout: 0)
    let afterNorm = try Self.model(dropout: 0.5)
    let paper = try Self.model(dropout: 0.5)
    afterNorm.dropoutOrder = .afterNorm
    for m in [noDropout, afterNorm, paper] {
      m.isTraining = true
      m.forward(x, retain: [.stage4(.cls)])
    }
    let reference = try #require(noDropout.retained[.stage4(.cls)]).array
    #expect(try #require(afterNorm.retained[.stage4(.cls)]).array == reference)
    #expect(try #require(paper.retained[.stage4(.cls)]).array != reference)
    #expect(afterNorm.stages.allSatisfy { !$0.dropout.isTraining })
    #expect(try #require(afterNorm.head).dropout.isTraining)
    // Switching back restores the paper's dropout while training.
    afterNorm.dropoutOrder = .beforeNorm
    #expect(afterNorm.stages.allSatisfy { $0.dropout.isTraining })
  }

  /// The after-norm backward: every parameter gradient equals that of the same network built
  /// without dropout, whose forward and backward `ModelParityTests` checks against PyTorch (the
  /// head's dropout is switched off in both so only the stages' order is compared); the paper's
  /// order with the same probability gives other gradients.
  @Test func afterNormGradientsAreThoseOfTheNetworkWithoutStageDropout() throws {
    let x = FreezingTests.batch
    let targets = BatchTargets(
      labels: [0, 1, 2, 3, 0, 1], masks: nil, hasMask: [Bool](repeating: false, count: 6))
    func gradients(_ model: MTACNNModel) throws -> [Float] {
      model.isTraining = true
      try #require(model.head).isTraining = false
      model.store.zeroGradients()
      let out = model.forward(x, heads: [.cls])
      let l = MultiTaskLoss(schema: model.schema)(out, targets, tasks: [.cls])
      model.backward(classification: l.classificationGradient, mask: nil)
      return model.store.parameters.filter { $0.kind == .trainable }.flatMap { $0.grad.array }
    }
    let afterNorm = try Self.model(dropout: 0.3)
    afterNorm.dropoutOrder = .afterNorm
    let reference = try gradients(try Self.model(dropout: 0))
    #expect(reference.contains { $0 != 0 })
    #expect(try gradients(afterNorm) == reference)
    #expect(try gradients(try Self.model(dropout: 0.3)) != reference)
  }

  /// Recalibration sets each batch norm's running statistics to the average over the batches of
  /// its batch mean and unbiased variance, computed here by hand for the first one; every later
  /// one sees no dropout (the same as a network without dropout), which a plain training-mode
  /// pass would not give. Modes, momentum and weights are left as they were.
  @Test func recalibrationAveragesBatchStatisticsWithoutDropout() throws {
    let batches = Self.batches(3)
    let withDropout = try Self.model(dropout: 0.5)
    let noDropout = try Self.model(dropout: 0)
    let weightsBefore = withDropout.store.parameters.filter { $0.kind == .trainable }.flatMap {
      $0.value.array
    }
    withDropout.isTraining = false
    withDropout.recalibrateBatchNorm(batches: batches.count, heads: [.cls]) { batches[$0] }
    noDropout.recalibrateBatchNorm(batches: batches.count, heads: [.cls]) { batches[$0] }

    // The first batch norm, by hand: its input is the first convolution's output.
    let first = withDropout.stage1.first
    var expectedMean = [Double](repeating: 0, count: first.norm.channels)
    var expectedVar = expectedMean
    for b in batches {
      let s = Self.channelStatistics(first.conv.forward(b))
      for c in 0..<expectedMean.count {
        expectedMean[c] += s.mean[c] / Double(batches.count)
        expectedVar[c] += s.variance[c] / Double(batches.count)
      }
    }
    for c in 0..<expectedMean.count {
      #expect(
        abs(Double(first.norm.runningMean.value[c]) - expectedMean[c]) <= 1e-4 * max(1, abs(expectedMean[c])))
      #expect(abs(Double(first.norm.runningVar.value[c]) - expectedVar[c]) <= 1e-4 * max(1, expectedVar[c]))
    }
    // Every batch norm: as without dropout.
    #expect(withDropout.runningStatistics() == noDropout.runningStatistics())
    #expect(!withDropout.isTraining)
    #expect(withDropout.trainingBatchNorms.isEmpty)  // nothing left in training mode
    #expect(withDropout.stages.allSatisfy { $0.first.norm.momentum == 0.1 && $0.second.norm.momentum == 0.1 })
    #expect(
      withDropout.store.parameters.filter { $0.kind == .trainable }.flatMap { $0.value.array }
        == weightsBefore)

    // A training-mode pass with dropout gathers different statistics downstream of a dropout.
    let plain = try Self.model(dropout: 0.5)
    plain.isTraining = true
    for b in batches { plain.forward(b, heads: [.cls]) }
    let plainVar = plain.stage2.first.norm.runningVar.value.array
    #expect(plainVar != noDropout.stage2.first.norm.runningVar.value.array)
  }

  /// Frozen parts keep their statistics: recalibration touches only batch norms that train.
  @Test func recalibrationLeavesFrozenStatisticsAlone() throws {
    let c = FreezingTests.configuration(tasks: [.cls, .seg], from: [.seg: [.cls]])
    let model = try MTACNNModel(configuration: c, seed: 4)
    try model.freeze([.cls])
    let frozenNames = Set(model.frozenTensorNames)
    let before = model.runningStatistics()
    let batches = Self.batches(2)
    model.recalibrateBatchNorm(batches: 2) { batches[$0] }
    let after = model.runningStatistics()
    let changed = Set(after.keys.filter { after[$0] != before[$0] })
    #expect(!changed.isEmpty)
    #expect(changed.isDisjoint(with: frozenNames))
    #expect(changed.allSatisfy { $0.hasPrefix("seg.") })
  }

  static func train(
    _ recalibration: BatchNormRecalibration, order: DropoutOrder = .beforeNorm, weights: [Float]? = nil
  ) throws -> (MTACNNModel, TrainingResult) {
    let model = try Self.model(dropout: 0.3, seed: 8)
    let data = FreezingTests.examples(48, seed: 11)
    var o = TrainingOptions()
    o.epochs = 2
    o.batchSize = 8
    o.learningRate = 3e-3
    o.seed = 8
    o.batchNormRecalibration = recalibration
    o.recalibrationBatches = 2
    o.dropoutOrder = order
    o.classWeights = weights
    let t = try Trainer(
      model: model, optimizer: Adam(model.store, learningRate: o.learningRate), options: o,
      train: data.filter { $0.part == .train }, validation: data.filter { $0.part == .val })
    let r = try t.run(save: { _ in }, events: { _ in }, shouldStop: { false })
    return (model, r)
  }

  static func weights(_ m: MTACNNModel) -> [Float] {
    m.store.parameters.filter { $0.kind == .trainable }.flatMap { $0.value.array }
  }

  /// `report` scores validation twice and changes nothing else: the weights and the running
  /// statistics are those of a run without it. `apply` keeps the recalibrated statistics (the
  /// weights still the same). The after-norm order trains different weights.
  @Test func recalibrationModesAndTheTrainingTrajectory() throws {
    let (off, offResult) = try Self.train(.off)
    let (report, reportResult) = try Self.train(.report)
    let (apply, _) = try Self.train(.apply)
    let (after, _) = try Self.train(.off, order: .afterNorm)
    #expect(Self.weights(report) == Self.weights(off))
    #expect(report.runningStatistics() == off.runningStatistics())
    #expect(Self.weights(apply) == Self.weights(off))
    #expect(apply.runningStatistics() != off.runningStatistics())
    #expect(Self.weights(after) != Self.weights(off))
    #expect(offResult.epochs.allSatisfy { $0.recalibratedValidationAccuracy == nil })
    #expect(reportResult.epochs.allSatisfy { $0.recalibratedValidationAccuracy != nil })
    #expect(
      zip(offResult.epochs, reportResult.epochs).allSatisfy { $0.validationLoss == $1.validationLoss })
    let json = String(decoding: try JSONEncoder().encode(reportResult.epochs[0]), as: UTF8.self)
    #expect(json.contains("\"val_accuracy_recalibrated\""))
  }

  /// Weighted classification loss, by hand: Σ w_y · NLL / Σ w_y over the labelled images.
  @Test func classWeightsWeightTheClassificationLoss() throws {
    let model = try Self.model(dropout: 0.2)
    model.isTraining = false
    let x = FreezingTests.batch
    let out = model.forward(x, heads: [.cls])
    let labels = [0, 1, 2, 3, 1, -1]
    let w: [Float] = [1, 3, 0.5, 2]
    let targets = BatchTargets(labels: labels, masks: nil, hasMask: [Bool](repeating: false, count: 6))
    let weighted = MultiTaskLoss(schema: model.schema, classWeights: w)(out, targets, tasks: [.cls])
    let lp = out.classification!.logProbabilities
    var num = 0.0
    var den = 0.0
    for (i, y) in labels.enumerated() where y >= 0 {
      num += Double(w[y]) * -Double(lp[i * 4 + y])
      den += Double(w[y])
    }
    #expect(abs(Double(weighted.classification!) - num / den) < 1e-5)
    let plain = MultiTaskLoss(schema: model.schema)(out, targets, tasks: [.cls])
    #expect(abs(weighted.classification! - plain.classification!) > 1e-4)
  }

  @Test func classWeightsParseBalancedAndPairs() throws {
    let labels = [0, 0, 1, 1, 1, 1, 2, 3]
    #expect(try ClassWeights.parse("balanced", schema: .all4, trainingLabels: labels) == [1, 0.5, 2, 2])
    #expect(try ClassWeights.parse("Early=2, Pro=0.5", schema: .all4, trainingLabels: []) == [1, 2, 1, 0.5])
    func message(_ text: String, _ labels: [Int] = labels) -> String {
      do {
        _ = try ClassWeights.parse(text, schema: .all4, trainingLabels: labels)
        return ""
      } catch { return error.description }
    }
    #expect(message("Erly=2").contains("\"Erly\" is not a class of all4 (Benign, Early, Pre, Pro)"))
    #expect(message("Early=-1").contains("the weight of Early"))
    #expect(message("Early=nan").contains("the weight of Early"))
    #expect(message("Early").contains("\"Early\" is not CLASS=WEIGHT"))
    #expect(message("Early=2,Early=3").contains("Early is given twice"))
    #expect(message("Benign=0,Early=0,Pre=0,Pro=0").contains("every class weighs 0"))
    #expect(message("balanced", [0, 1, 2]).contains("Pro has none"))
  }

  @Test func trainerRefusesClassWeightsOfTheWrongLength() throws {
    let model = try Self.model(dropout: 0.2)
    var o = TrainingOptions()
    o.classWeights = [1, 2]
    let data = FreezingTests.examples(8, seed: 1)
    #expect(throws: TrainingError.self) {
      _ = try Trainer(
        model: model, optimizer: Adam(model.store, learningRate: 1e-3), options: o, train: data,
        validation: [])
    }
  }
}
