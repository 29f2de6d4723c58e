import Foundation
import Testing

@testable import NeuralEngine
@testable import ReferenceNetwork

/// The fixture network: the reference MTA-CNN at 32×32 with channels 4/8/8/16, dropout off.
func fixtureNetwork(_ f: SafeTensorsFile) throws -> ReferenceMTACNN {
  var config = ReferenceMTACNNConfig()
  config.imageSize = 32
  config.channels = [4, 8, 8, 16]
  config.dropout = 0
  config.transformerDropout = 0
  let net = ReferenceMTACNN(config: config)
  for p in net.store.parameters { try f.load("param." + p.name, into: p) }
  return net
}

/// Looser bound for parameters after the first Adam step: that step moves every element by
/// lr·g/(|g| + ε), about ±lr whatever the gradient's size, so an element whose gradient is ~ε
/// (1e-8; the transformer's linear2 weights have some at 7e-9 against an RMS of 3e-4) turns a
/// rounding-level gradient difference into a visible step difference. Adam itself matches to
/// 1e-5 in `adamSteps`; the gradients here match to 1e-4.
let adamStepTolerance: Float = 1e-3

/// Against the PyTorch reference network with the same weights: outputs, both losses, every
/// parameter gradient, the batch-norm running statistics and one Adam step.
@Test("the reference MTA-CNN matches PyTorch end to end")
func referenceNetworkMatchesPyTorch() throws {
  let f = try fixture("network")
  let net = try fixtureNetwork(f)
  // Every tensor of the PyTorch state dict has a parameter here, and the reverse.
  let torchNames = Set(f.names.filter { $0.hasPrefix("param.") }.map { String($0.dropFirst(6)) })
  #expect(torchNames == Set(net.store.parameters.map(\.name)))

  net.isTraining = true
  net.store.zeroGradients()
  let out = net.forward(try f.tensor("input"))
  let logp = HierarchicalLoss.logProbabilities(malignant: out.malignant, subtypes: out.subtypes)
  expectClose(logp, try f.values("logp"), 1e-4, "class log-probabilities")
  expectClose(out.mask.array, try f.values("mask_logits"), 1e-4, "mask logits")

  let labels = try f.values("labels").map { Int($0) }
  let masks = try f.tensor("masks")
  let cls = HierarchicalLoss(subtypes: 3)(malignant: out.malignant, subtypes: out.subtypes, labels: labels)
  let a = BinaryFocalLoss.balancedWeight(targets: masks)
  let focal = BinaryFocalLoss(gamma: 2)(out.mask, targets: masks, positiveWeight: a)
  expectClose([cls.loss], try f.values("loss.cls"), 1e-4, "classification loss")
  expectClose([focal.loss], try f.values("loss.mask"), 1e-4, "mask loss")

  net.backward(malignant: cls.malignantGradient, subtypes: cls.subtypeGradient, mask: focal.gradient)
  for p in net.store.parameters where p.kind == .trainable {
    expectClose(p.grad.array, try f.values("grad." + p.name), 1e-4, "gradient of \(p.name)")
  }
  for p in net.store.parameters where p.kind == .buffer {
    expectClose(p.value.array, try f.values("after." + p.name), 1e-4, "\(p.name) after the step")
  }
  Adam(net.store, learningRate: 1e-3).step()
  for p in net.store.parameters where p.kind == .trainable {
    expectClose(
      p.value.array, try f.values("step." + p.name), adamStepTolerance, "\(p.name) after one Adam step")
  }
}

/// `ReferenceTrainer.step` is exactly forward, DESIGN §4's loss, backward and Adam.
@Test func trainerStepIsForwardLossBackwardAdam() throws {
  let f = try fixture("network")
  let net = try fixtureNetwork(f)
  let trainer = ReferenceTrainer(network: net)
  let losses = trainer.step(
    images: try f.tensor("input"), labels: try f.values("labels").map { Int($0) },
    masks: try f.tensor("masks"))
  expectClose([losses.classification], try f.values("loss.cls"), 1e-4, "classification loss")
  expectClose([losses.mask], try f.values("loss.mask"), 1e-4, "mask loss")
  for p in net.store.parameters where p.kind == .trainable {
    expectClose(p.value.array, try f.values("step." + p.name), adamStepTolerance, "\(p.name) after the step")
  }
}
