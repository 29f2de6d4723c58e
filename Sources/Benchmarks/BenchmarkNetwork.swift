import NeuralEngine
import ReferenceNetwork

/// A network `blastview bench engine` can time: DESIGN §4's default, either the product model of
/// the `MTACNN` module (what users run, so the default) or `ReferenceMTACNN` (the network
/// `Benchmarks/compare_pytorch.py` mirrors, to compare the engine with PyTorch).
public protocol BenchmarkNetwork: AnyObject {
  var store: ParameterStore { get }
  var isTraining: Bool { get set }
  /// Every convolution with the input shape it sees at `batch`, in forward order.
  func convolutions(batch: Int) -> [(name: String, conv: Conv2D, input: [Int])]
  /// Floating-point operations of one forward pass over `batch` images (multiply-add = 2).
  func benchmarkFLOPs(batch: Int) -> Int
  /// Inference mode with kernels cached between calls.
  func prepareForInference()
  /// One inference forward pass of a (B, 3, S, S) batch, every output computed.
  func benchmarkForward(_ images: Tensor)
  /// A training step (forward, DESIGN §4's loss, backward, Adam) bound to its own optimiser.
  func makeTrainingStep(learningRate: Float) -> (_ images: Tensor, _ labels: [Int], _ masks: Tensor) -> Void
}

extension ReferenceMTACNN: BenchmarkNetwork {
  public func benchmarkFLOPs(batch: Int) -> Int { forwardFLOPs(batch: batch) }

  public func benchmarkForward(_ images: Tensor) { _ = forward(images) }

  public func makeTrainingStep(learningRate: Float) -> (Tensor, [Int], Tensor) -> Void {
    let trainer = ReferenceTrainer(network: self, learningRate: learningRate)
    return { images, labels, masks in trainer.step(images: images, labels: labels, masks: masks) }
  }
}
