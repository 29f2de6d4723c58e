import Foundation

/// A Grad-CAM explanation (Selvaraju et al., ICCV 2017) of one image for one class.
public struct GradCAMExplanation: Sendable {
  /// The explained class (the predicted one unless another was asked for).
  public var classIndex: Int
  /// The model's class probabilities for the image.
  public var probabilities: [Float]
  /// ReLU(Σ_k α_k A_k) at the explained stage's resolution (S/8 for the classification column's
  /// last stage).
  public var cam: AttributionMap
  /// `cam` brought up to the input's S × S by bilinear interpolation: the heatmap overlays draw
  /// and the corner share is measured on.
  public var heatmap: AttributionMap
}

/// The arithmetic of Grad-CAM that does not depend on the network: the class score's gradient
/// with respect to the log-probabilities, and the map from a feature map and its gradient.
///
/// The score is the class's log-odds against the other classes,
/// score_c = log P(c) − log Σ_{j≠c} P(j). The hierarchical head has no single logit per class (Pro-B
/// is sigmoid(m)·softmax(s)_Pro), and the log-odds is defined the same way for both heads: for the
/// flat head it is z_c − logsumexp_{j≠c} z_j, for Benign in the hierarchical head it is −m, the
/// malignant logit's negative. Unlike log P(c), its gradient does not vanish when the model is sure
/// (d log P/dz = 1 − P → 0), so confident predictions, most of Aria's, still get a map.
public enum GradCAM {
  /// d score_c / d log P(j) for every class j: 1 for c, −P(j) / Σ_{i≠c} P(i) for the others.
  public static func scoreGradient(logProbabilities l: [Float], classIndex c: Int) -> [Double] {
    precondition(c >= 0 && c < l.count && l.count >= 2)
    let others = l.indices.filter { $0 != c }
    let top = others.map { Double(l[$0]) }.max()!
    var g = [Double](repeating: 0, count: l.count)
    var sum = 0.0
    for j in others {
      g[j] = exp(Double(l[j]) - top)
      sum += g[j]
    }
    for j in others { g[j] = -g[j] / sum }
    g[c] = 1
    return g
  }

  /// The class's log-odds against the other classes, from the log-probabilities.
  public static func score(logProbabilities l: [Float], classIndex c: Int) -> Double {
    let others = l.indices.filter { $0 != c }.map { Double(l[$0]) }
    let top = others.max()!
    return Double(l[c]) - (top + log(others.reduce(0) { $0 + exp($1 - top) }))
  }

  /// ReLU(Σ_k α_k A_k) with α_k the mean over pixels of the gradient of channel k: one image's
  /// feature map `activation` and its `gradient`, both [channels, height, width] row-major.
  public static func map(
    activation a: UnsafePointer<Float>, gradient g: UnsafePointer<Float>, channels: Int, height: Int,
    width: Int
  ) -> AttributionMap {
    let hw = height * width
    var out = [Double](repeating: 0, count: hw)
    for k in 0..<channels {
      var mean = 0.0
      for i in 0..<hw { mean += Double(g[k * hw + i]) }
      mean /= Double(hw)
      for i in 0..<hw { out[i] += mean * Double(a[k * hw + i]) }
    }
    return AttributionMap(width: width, height: height, values: out.map { Float(max($0, 0)) })
  }

  /// The explanation from the stage's map: upsampled to `size` × `size`.
  public static func explanation(
    cam: AttributionMap, size: Int, classIndex: Int, probabilities: [Float]
  ) -> GradCAMExplanation {
    GradCAMExplanation(
      classIndex: classIndex, probabilities: probabilities, cam: cam,
      heatmap: cam.resized(width: size, height: size, interpolation: .bilinear))
  }
}
