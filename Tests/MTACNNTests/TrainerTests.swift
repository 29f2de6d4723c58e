import Foundation
import Imaging
import NeuralEngine
import Testing

@testable import MTACNN

@Suite struct TrainerTests {
  static func run(
    seed: UInt64, epochs: Int, stopAfter: Int? = nil, tasks: [ModelTask] = [.cls, .seg], images: Int = 48
  ) throws -> (
    MTACNNModel, TrainingResult, [EpochRecord]
  ) {
    let c = FreezingTests.configuration(
      tasks: tasks, from: tasks.count == 2 ? [.seg: [.cls], .cls: [.seg]] : [:])
    let model = try MTACNNModel(configuration: c, seed: seed)
    let data = FreezingTests.examples(images, seed: 11)
    var o = TrainingOptions()
    o.epochs = epochs
    o.batchSize = 8
    o.learningRate = 3e-3
    o.seed = seed
    o.augmentation = AugmentationConfig(
      hueDegrees: 10, saturation: 0.2, grayProbability: 0.1, hedScale: 0.05, hedShift: 0.05)
    let t = try Trainer(
      model: model, optimizer: Adam(model.store, learningRate: o.learningRate), options: o,
      train: data.filter { $0.part == .train }, validation: data.filter { $0.part == .val })
    var saved: [EpochRecord] = []
    var epochsSeen = 0
    let r = try t.run(
      save: { saved.append($0) },
      events: { if case .epoch = $0 { epochsSeen += 1 } },
      shouldStop: { stopAfter.map { epochsSeen >= $0 } ?? false })
    return (model, r, saved)
  }

  @Test func sameSeedGivesTheSameWeights() throws {
    let (a, _, _) = try Self.run(seed: 5, epochs: 2)
    let (b, _, _) = try Self.run(seed: 5, epochs: 2)
    let (c, _, _) = try Self.run(seed: 6, epochs: 2)
    let wa = a.store.parameters.flatMap { $0.value.array }
    #expect(wa == b.store.parameters.flatMap { $0.value.array })
    #expect(wa != c.store.parameters.flatMap { $0.value.array })
  }

  /// The synthetic classes differ by nucleus size: a few epochs must beat chance (25 %) and the
  /// nucleus mask must be found; the losses must fall.
  @Test func learnsTheSyntheticTasks() throws {
    let (_, r, _) = try Self.run(seed: 1, epochs: 15, images: 120)
    let first = try #require(r.epochs.first)
    let last = try #require(r.epochs.last)
    #expect(last.trainLoss < 0.7 * first.trainLoss)
    let best = try #require(r.epochs.first { $0.epoch == r.bestEpoch })
    #expect((best.validationAccuracy ?? 0) > 0.5)
    #expect((best.validationDice ?? 0) > 0.6)
  }

  @Test func stopRequestEndsTheRunKeepingTheBestEpoch() throws {
    let (_, r, saved) = try Self.run(seed: 2, epochs: 5, stopAfter: 1)
    #expect(r.ending == .interrupted)
    #expect(r.epochs.count == 1)
    #expect(r.bestEpoch == 1)
    #expect(saved.map(\.epoch) == [1])
  }

  @Test func earlyStoppingWaitsPatienceEpochsAfterTheBest() {
    var s = EarlyStopping(patience: 2)
    #expect(s.observe(epoch: 1, loss: 1.0) == (true, false))
    #expect(s.observe(epoch: 2, loss: 0.8) == (true, false))
    #expect(s.observe(epoch: 3, loss: 0.8) == (false, false))  // equal is not better
    #expect(s.observe(epoch: 4, loss: .nan) == (false, true))
    #expect(s.bestEpoch == 2)
    var t = EarlyStopping(patience: 1)
    #expect(t.observe(epoch: 1, loss: 2) == (true, false))
    #expect(t.observe(epoch: 2, loss: 3) == (false, true))
  }

  @Test func cosineScheduleHalvesAtTheMiddleAndStartsAtTheBase() {
    let c = LearningRateSchedule.cosine
    #expect(c.rate(base: 1e-3, epoch: 0, epochs: 10) == 1e-3)
    #expect(abs(c.rate(base: 1e-3, epoch: 5, epochs: 10) - 5e-4) < 1e-9)
    #expect(LearningRateSchedule.constant.rate(base: 1e-3, epoch: 7, epochs: 10) == 1e-3)
  }

  /// Samples train on whichever labels they have: an image without a label adds nothing to the
  /// classification loss; one without a mask nothing to the mask loss; a batch without either
  /// leaves that part out.
  @Test func partialLabelsAreScoredOnlyWhereTheyExist() throws {
    let c = FreezingTests.configuration(tasks: [.cls, .seg], from: [:])
    let model = try MTACNNModel(configuration: c)
    model.isTraining = false
    let x = FreezingTests.batch
    let out = model.forward(x)
    let masks = Tensor(shape: [6, 1, FreezingTests.size, FreezingTests.size])
    for i in 0..<masks.count where i % 7 == 0 { masks[i] = 1 }
    let loss = MultiTaskLoss(schema: model.schema)
    let all = loss(
      out,
      BatchTargets(labels: [0, 1, 2, 3, 0, 1], masks: masks, hasMask: [Bool](repeating: true, count: 6)),
      tasks: [.cls, .seg])
    // Unlabelled images and unmasked images change nothing when their rows are removed.
    let some = loss(
      out,
      BatchTargets(
        labels: [0, -1, 2, -1, 0, 1], masks: masks, hasMask: [true, false, true, true, false, true]),
      tasks: [.cls, .seg])
    let lp = out.classification!.logProbabilities
    let expected = -(lp[0 * 4 + 0] + lp[2 * 4 + 2] + lp[4 * 4 + 0] + lp[5 * 4 + 1]) / 4
    #expect(abs(some.classification! - expected) < 1e-5)
    #expect(some.classification != all.classification)
    if case .hierarchical(let dm, _) = some.classificationGradient! {
      #expect(dm[1] == 0 && dm[3] == 0 && dm[0] != 0)
    }
    let plane = FreezingTests.size * FreezingTests.size
    #expect(some.maskGradient!.array[plane..<(2 * plane)].allSatisfy { $0 == 0 })
    let none = loss(
      out,
      BatchTargets(
        labels: [-1, -1, -1, -1, -1, -1], masks: masks, hasMask: [Bool](repeating: false, count: 6)),
      tasks: [.cls, .seg])
    #expect(none.classification == nil && none.mask == nil && none.total == 0)
  }
}
