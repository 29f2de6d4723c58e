import MTACNN
import NeuralEngine

/// The product model as a `BenchmarkNetwork`: `blastview bench engine` times it by default, so the
/// figures are those of the network users run.
extension MTACNNModel: BenchmarkNetwork {
  /// The default network of DESIGN §4 at input size `size` (no corner blanking: the benchmark feeds
  /// tensors, not images).
  public static func benchmarkDefault(size: Int, seed: UInt64) -> MTACNNModel {
    var c = ModelConfiguration.defaults(for: .all4, size: size)
    c.blankCorner = nil
    c.sourceSize = nil
    // The default configuration is valid for every multiple of 16 the command accepts.
    return try! MTACNNModel(configuration: c, seed: seed)
  }

  /// Convolutions and matrix products (the `torch.utils.flop_counter` convention).
  public func benchmarkFLOPs(batch: Int) -> Int { forwardFLOPs(batch: batch).total }

  public func benchmarkForward(_ images: Tensor) { forward(images) }

  public func makeTrainingStep(learningRate: Float) -> (Tensor, [Int], Tensor) -> Void {
    let adam = Adam(store, learningRate: learningRate)
    let loss = MultiTaskLoss(schema: schema)
    let tasks = Set(trainedTasks)
    return { [unowned self] images, labels, masks in
      self.isTraining = true
      profile("zero gradients") { self.store.zeroGradients() }
      let out = self.forward(images, heads: tasks)
      let l = profile("losses") {
        loss(
          out,
          BatchTargets(labels: labels, masks: masks, hasMask: [Bool](repeating: true, count: labels.count)),
          tasks: tasks)
      }
      self.backward(classification: l.classificationGradient, mask: l.maskGradient)
      profile("adam") { adam.step() }
    }
  }
}
