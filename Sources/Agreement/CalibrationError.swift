/// Expected calibration error of a classifier's probabilities: confidence = the largest class
/// probability, 15 equal-width bins on (0, 1] (a confidence of exactly b/15 falls in bin b),
/// ECE = sum over bins of (share of images) * |accuracy - mean confidence|.
public func expectedCalibrationError(probabilities: [[Double]], truth: [Int], bins: Int = 15) -> Double {
  precondition(probabilities.count == truth.count && bins > 0)
  guard !truth.isEmpty else { return 0 }
  var count = [Int](repeating: 0, count: bins)
  var correct = [Int](repeating: 0, count: bins)
  var confidence = [Double](repeating: 0, count: bins)
  for (p, t) in zip(probabilities, truth) {
    var best = 0
    for j in p.indices where p[j] > p[best] { best = j }
    let conf = p[best]
    let b = min(bins - 1, max(0, Int((conf * Double(bins)).rounded(.up)) - 1))
    count[b] += 1
    confidence[b] += conf
    if best == t { correct[b] += 1 }
  }
  let n = Double(truth.count)
  var e = 0.0
  for b in 0..<bins where count[b] > 0 {
    let c = Double(count[b])
    e += c / n * abs(Double(correct[b]) / c - confidence[b] / c)
  }
  return e
}
