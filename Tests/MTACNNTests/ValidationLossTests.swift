import Foundation
import NeuralEngine
import Testing

@testable import MTACNN

/// The loss-only evaluation the retraining gate scores models with: the trainer's own
/// validation loss, without an optimiser or training data.
@Suite struct ValidationLossTests {
  static func model(tasks: [ModelTask] = [.cls, .seg]) throws -> MTACNNModel {
    let c = FreezingTests.configuration(
      tasks: tasks, from: tasks.count == 2 ? [.seg: [.cls], .cls: [.seg]] : [:])
    return try MTACNNModel(configuration: c, seed: 3)
  }

  /// The reference is `Trainer.validate`, the code that picks the best epoch: the same model,
  /// examples and batch size give the same loss, bit for bit, including a partial last batch.
  @Test(arguments: [8, 5])
  func equalsTheTrainersValidationLoss(batch: Int) throws {
    let model = try Self.model()
    let data = FreezingTests.examples(22, seed: 11)
    var o = TrainingOptions()
    o.batchSize = batch
    let trainer = try Trainer(
      model: model, optimizer: Adam(model.store, learningRate: 1e-3), options: o, train: data,
      validation: data)
    let expected = trainer.validate(tasks: Set(model.tasks)).loss
    let measured = try #require(ValidationLoss.measure(model, on: data, batchSize: batch))
    #expect(measured == expected)
    #expect(measured > 0 && measured.isFinite)
    // A classification-only measurement scores less than both tasks together.
    let clsOnly = try #require(ValidationLoss.measure(model, on: data, batchSize: batch, tasks: [.cls]))
    #expect(clsOnly == trainer.validate(tasks: [.cls]).loss)
    #expect(clsOnly < measured)
  }

  /// Measuring changes no weight and no running statistic.
  @Test func leavesTheModelAsItWas() throws {
    let model = try Self.model()
    let before = model.store.parameters.map { $0.value.array }
    _ = ValidationLoss.measure(model, on: FreezingTests.examples(12, seed: 4), batchSize: 4)
    #expect(model.store.parameters.map { $0.value.array } == before)
  }

  /// Nothing to score: no examples, or none with a label or mask for the measured tasks.
  @Test func nilWithoutATargetForTheTasks() throws {
    let model = try Self.model(tasks: [.cls])
    #expect(ValidationLoss.measure(model, on: [], batchSize: 8) == nil)
    let masksOnly = FreezingTests.examples(8, seed: 2).map {
      var e = $0
      e.classIndex = nil
      return e
    }
    #expect(masksOnly.allSatisfy { $0.mask != nil })
    #expect(ValidationLoss.measure(model, on: masksOnly, batchSize: 4) == nil)
    let both = try Self.model()
    #expect(ValidationLoss.measure(both, on: masksOnly, batchSize: 4) != nil)
  }
}
