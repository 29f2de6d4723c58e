import Foundation
import NeuralEngine

/// MTA-CNN as an `ExplainableModel`: class probabilities from the classification head alone (the
/// segmentation decoder is not run), and Grad-CAM on `cls.stage4`, the classification column's
/// last stage before its max-pool (issue 9), through the model's explain-mode gradients, which
/// change no parameter, gradient or freezing.
///
/// Both run in inference mode (running batch-norm statistics, no dropout), so an image's answer
/// does not depend on the others in its batch. The model is not thread-safe: one caller at a time.
extension MTACNNModel: ExplainableModel {
  public var classNames: [String] { schema.classes }

  public var preprocessing: Preprocessing { configuration.preprocessing }

  /// Inputs per forward pass: bounds the activation memory whatever the caller hands over.
  static let explainBatch = 32

  public func probabilities(_ batch: [PlanarImage]) throws -> [[Float]] {
    try requireClassification()
    guard !batch.isEmpty else { return [] }
    prepareForInference()
    var out: [[Float]] = []
    out.reserveCapacity(batch.count)
    var start = 0
    while start < batch.count {
      let part = Array(batch[start..<min(batch.count, start + MTACNNModel.explainBatch)])
      let x = try inputTensor(part)
      let c = forward(x, heads: [.cls]).classification!
      let lp = c.logProbabilities
      let k = classCount
      for i in 0..<part.count { out.append((0..<k).map { expf(lp[i * k + $0]) }) }
      start += part.count
    }
    return out
  }

  public func gradCAM(_ batch: [PlanarImage], classIndices: [Int?]) throws -> [GradCAMExplanation] {
    try requireClassification()
    guard batch.count == classIndices.count else {
      throw ExplanationError.classifierOutput(
        "\(classIndices.count) class choices for a batch of \(batch.count) images")
    }
    for case let k? in classIndices where k < 0 || k >= classCount {
      throw ExplanationError.classOutOfRange(k, classes: classCount)
    }
    guard !batch.isEmpty else { return [] }
    prepareForInference()
    var out: [GradCAMExplanation] = []
    out.reserveCapacity(batch.count)
    var start = 0
    while start < batch.count {
      let end = min(batch.count, start + MTACNNModel.explainBatch)
      out += try gradCAMChunk(Array(batch[start..<end]), classIndices: Array(classIndices[start..<end]))
      start = end
    }
    return out
  }

  private func gradCAMChunk(_ batch: [PlanarImage], classIndices: [Int?]) throws -> [GradCAMExplanation] {
    let x = try inputTensor(batch)
    let point = ActivationPoint.stage4(.cls)
    let c = forward(x, heads: [.cls], retain: [point]).classification!
    let lp = c.logProbabilities
    let k = classCount
    let b = batch.count
    var explained: [Int] = []
    var weights: [[Double]] = []
    var probabilities: [[Float]] = []
    for i in 0..<b {
      let row = Array(lp[(i * k)..<((i + 1) * k)])
      let p = row.map { expf($0) }
      let cls = classIndices[i] ?? argmax(p)
      explained.append(cls)
      probabilities.append(p)
      weights.append(GradCAM.scoreGradient(logProbabilities: row, classIndex: cls))
    }
    let g = gradients(classification: MTACNNModel.scoreGradient(c, weights: weights), mask: nil, at: [point])
    guard let a = retained[point], let ga = g[point] else {
      preconditionFailure("MTACNN: Grad-CAM's feature map was not kept")
    }
    let (ch, h, w) = (a.shape[1], a.shape[2], a.shape[3])
    return (0..<b).map { i in
      let cam = GradCAM.map(
        activation: a.data + i * ch * h * w, gradient: ga.data + i * ch * h * w, channels: ch, height: h,
        width: w)
      return GradCAM.explanation(
        cam: cam, size: size, classIndex: explained[i], probabilities: probabilities[i])
    }
  }

  /// The gradient of each image's score with respect to the head's outputs, from the score's
  /// gradient with respect to the log-probabilities (`weights[i][j]` = d score_i / d log P_i(j)):
  /// Σ_j weights[i][j] · d log P_i(j) / d outputs, by the chain rule.
  static func scoreGradient(_ c: ClassificationOutput, weights: [[Double]]) -> ClassificationOutput {
    let b = c.batch
    let k = weights.first?.count ?? 0
    func combine(_ parts: [Tensor]) -> Tensor {
      let out = Tensor(shape: parts[0].shape)
      out.fill(0)
      let width = out.count / max(b, 1)
      for (j, t) in parts.enumerated() {
        for i in 0..<b {
          let w = Float(weights[i][j])
          for m in 0..<width { out.data[i * width + m] += w * t.data[i * width + m] }
        }
      }
      return out
    }
    let perClass = (0..<k).map { j in c.logProbabilityGradient(classes: Array(repeating: j, count: b)) }
    switch c {
    case .hierarchical:
      var ms: [Tensor] = []
      var ss: [Tensor] = []
      for g in perClass {
        guard case .hierarchical(let m, let s) = g else { preconditionFailure() }
        ms.append(m)
        ss.append(s)
      }
      return .hierarchical(malignant: combine(ms), subtypes: combine(ss))
    case .flat:
      let zs = perClass.map { g -> Tensor in
        guard case .flat(let z) = g else { preconditionFailure() }
        return z
      }
      return .flat(logits: combine(zs))
    }
  }

  private func requireClassification() throws {
    guard tasks.contains(.cls), head != nil else {
      throw ExplanationError.invalidOption("model", "tasks \(tasks.map(\.rawValue))", "needs the cls task")
    }
  }

  /// A batch [B, 3, S, S] of preprocessed S × S inputs.
  private func inputTensor(_ batch: [PlanarImage]) throws -> Tensor {
    let s = size
    let plane = 3 * s * s
    for im in batch where im.width != s || im.height != s {
      throw ExplanationError.sizeMismatch(image: (im.width, im.height), superpixels: (s, s))
    }
    let x = Tensor(shape: [batch.count, 3, s, s])
    for (i, im) in batch.enumerated() {
      im.data.withUnsafeBufferPointer { (x.data + i * plane).update(from: $0.baseAddress!, count: plane) }
    }
    return x
  }
}
