import Foundation
import Testing

@testable import NeuralEngine

private func bits(_ t: Tensor) -> [UInt32] { t.array.map(\.bitPattern) }

@Test("Adam's first step by hand, and decoupled weight decay")
func adamByHand() {
  let store = ParameterStore()
  let p = store.add("p", shape: [2], group: "g", initializer: .values([1, -1]))
  store.finalize()
  let adam = Adam(store, learningRate: 0.1)
  p.grad[0] = 0.5
  p.grad[1] = -2
  adam.step()
  // Step 1: m̂ = g, v̂ = g², so the update is lr·g/(|g| + ε) = ±0.1.
  #expect(abs(p.value[0] - 0.9) < 1e-6)
  #expect(abs(p.value[1] - -0.9) < 1e-6)
  #expect(adam.stepCount(p) == 1)
  let s2 = ParameterStore()
  let q = s2.add("q", shape: [1], group: "g", initializer: .values([2]))
  s2.finalize()
  let adamW = Adam(s2, learningRate: 0.1, weightDecay: 0.5)
  adamW.step()  // zero gradient: only the decay, 2·(1 − 0.1·0.5)
  #expect(abs(q.value[0] - 1.9) < 1e-6)
}

@Test("a frozen group keeps its bytes, moments and steps; the others train")
func adamFreezing() {
  let store = ParameterStore(seed: 3)
  let conv = Conv2D(store, name: "shared.conv", group: "shared", inChannels: 2, outChannels: 3, bias: true)
  let head = Dense(store, name: "cls.head", group: "cls", inFeatures: 12, outFeatures: 2)
  store.finalize()
  let adam = Adam(store, learningRate: 0.01, weightDecay: 0.1)
  store.freeze("shared")
  let before = store.parameters(inGroup: "shared").map { bits($0.value) }
  let gradBefore = store.parameters(inGroup: "shared").map { bits($0.grad) }
  let headBefore = bits(head.weight.value)
  let x = randomTensor([2, 2, 2, 2], seed: 4)
  for _ in 0..<3 {
    store.zeroGradients()
    let y = conv.forward(x).reshaped([2, 12])
    let z = head.forward(y)
    let dy = head.backward(randomTensor(z.shape, seed: 5))
    conv.backwardParameters(dy.reshaped([2, 3, 2, 2]))
    adam.step()
  }
  #expect(store.parameters(inGroup: "shared").map { bits($0.value) } == before)
  #expect(store.parameters(inGroup: "shared").map { bits($0.grad) } == gradBefore)
  for p in store.parameters(inGroup: "shared") {
    #expect(adam.stepCount(p) == 0)
    #expect(adam.firstMoment(p).array.allSatisfy { $0 == 0 })
  }
  #expect(bits(head.weight.value) != headBefore)
  #expect(adam.stepCount(head.weight) == 3)
}

@Test("checkpoints restore parameters and Adam state exactly; bad loads change nothing")
func checkpointRoundTrip() throws {
  func build(_ seed: UInt64) -> (ParameterStore, Dense, Adam) {
    let s = ParameterStore(seed: seed)
    let d = Dense(s, name: "d", group: "g", inFeatures: 3, outFeatures: 2)
    s.add("bn.running_mean", shape: [2], group: "g", initializer: .zeros, kind: .buffer)
    s.finalize()
    return (s, d, Adam(s, learningRate: 0.05))
  }
  let (s1, d1, a1) = build(1)
  let x = randomTensor([4, 3], seed: 2)
  let r = randomTensor([4, 2], seed: 3)
  func train(_ s: ParameterStore, _ d: Dense, _ a: Adam) {
    s.zeroGradients()
    _ = d.forward(x)
    _ = d.backward(r)
    a.step()
  }
  train(s1, d1, a1)
  train(s1, d1, a1)
  s1["bn.running_mean"].value[1] = 0.25
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ck-\(getpid())")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: dir) }
  let path = dir.appendingPathComponent("m.safetensors").path
  try Checkpoint.save(s1, optimizer: a1, metadata: ["model": "test"], to: path)
  let (s2, d2, a2) = build(9)
  let report = try Checkpoint.load(s2, from: path, optimizer: a2)
  #expect(report.metadata["model"] == "test")
  #expect(report.unused.isEmpty && report.missing.isEmpty)
  #expect(s2["bn.running_mean"].value[1] == 0.25)
  train(s1, d1, a1)
  train(s2, d2, a2)
  #expect(bits(d1.weight.value) == bits(d2.weight.value))
  #expect(bits(d1.bias!.value) == bits(d2.bias!.value))
  #expect(a2.stepCount(d2.weight) == 3)

  // A file with a wrong shape: the error names the tensor and nothing is loaded.
  let s3 = ParameterStore(seed: 4)
  let d3 = Dense(s3, name: "d", group: "g", inFeatures: 3, outFeatures: 2)
  s3.add("extra", shape: [5], group: "g", initializer: .zeros)
  s3.finalize()
  let before = bits(d3.weight.value)
  #expect(throws: SafeTensorsError(path: path, tensor: "extra", reason: .missing)) {
    try Checkpoint.load(s3, from: path)
  }
  #expect(bits(d3.weight.value) == before)
  let partial = try Checkpoint.load(s3, from: path, allowMissing: true)
  #expect(partial.missing == ["extra"])
  #expect(d3.weight.value.array == (try SafeTensorsFile.read(path: path).floats("d.weight")))
  let s4 = ParameterStore()
  _ = Dense(s4, name: "d", group: "g", inFeatures: 2, outFeatures: 2)
  s4.finalize()
  #expect(
    throws: SafeTensorsError(
      path: path, tensor: "d.weight", reason: .wrongShape(expected: [2, 2], found: [2, 3]))
  ) {
    try Checkpoint.load(s4, from: path)
  }
}
