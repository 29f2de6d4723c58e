#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// log(1 + e^x) without overflow or loss of precision for large |x|.
@inline(__always)
public func softplus(_ x: Float) -> Float {
  x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x))
}

/// The logistic function, stable for large |x|.
@inline(__always)
public func sigmoid(_ x: Float) -> Float {
  if x >= 0 {
    return 1 / (1 + expf(-x))
  }
  let e = expf(x)
  return e / (1 + e)
}

/// Softmax cross-entropy over the last dimension of (rows, classes) logits, computed with
/// log-sum-exp. Labels are class indices; a label of -1 is ignored (no loss, zero gradient).
/// With class weights it is PyTorch's weighted mean: Σ w_y·(−log p_y) / Σ w_y.
public final class SoftmaxCrossEntropy {
  public let classes: Int
  public var classWeights: [Float]?
  private var grad = ReusableBuffer()

  public init(classes: Int, classWeights: [Float]? = nil) {
    precondition(classWeights == nil || classWeights!.count == classes)
    self.classes = classes
    self.classWeights = classWeights
  }

  /// Returns the mean loss and its gradient with respect to the logits (0 when no label counts).
  public func callAsFunction(_ logits: Tensor, labels: [Int]) -> (loss: Float, gradient: Tensor) {
    let k = classes
    let rows = logits.count / k
    precondition(
      logits.count == rows * k && labels.count == rows, "logits \(logits.shape) vs \(labels.count) labels")
    let g = grad.tensor(logits.shape)
    var total = 0.0
    var weightSum = 0.0
    for r in 0..<rows {
      let y = labels[r]
      precondition(y >= -1 && y < k, "label \(y) outside 0..<\(k)")
      if y >= 0 { weightSum += Double(classWeights?[y] ?? 1) }
    }
    for r in 0..<rows {
      let z = logits.data + r * k
      let gr = g.data + r * k
      let y = labels[r]
      if y < 0 || weightSum == 0 {
        gr.update(repeating: 0, count: k)
        continue
      }
      var mx = -Float.infinity
      for j in 0..<k { mx = max(mx, z[j]) }
      var s: Float = 0
      for j in 0..<k { s += expf(z[j] - mx) }
      let lse = mx + logf(s)
      let w = Double(classWeights?[y] ?? 1)
      total += w * Double(lse - z[y])
      let scale = Float(w / weightSum)
      for j in 0..<k {
        gr[j] = scale * (expf(z[j] - lse) - (j == y ? 1 : 0))
      }
    }
    return (weightSum > 0 ? Float(total / weightSum) : 0, g)
  }
}

/// Binary cross-entropy on logits, averaged over elements: −[pw·y·log σ(z) + (1−y)·log(1−σ(z))]
/// with the logs as −softplus(∓z) so no value overflows.
public final class BCEWithLogits {
  public var positiveWeight: Float
  private var grad = ReusableBuffer()

  public init(positiveWeight: Float = 1) {
    self.positiveWeight = positiveWeight
  }

  public func callAsFunction(_ logits: Tensor, targets: Tensor) -> (loss: Float, gradient: Tensor) {
    precondition(logits.count == targets.count, "logits \(logits.shape) vs targets \(targets.shape)")
    let n = logits.count
    let g = grad.tensor(logits.shape)
    let pw = positiveWeight
    let inv = 1 / Float(max(n, 1))
    var total = 0.0
    for i in 0..<n {
      let z = logits[i]
      let y = targets[i]
      total += Double(pw * y * softplus(-z) + (1 - y) * softplus(z))
      // d/dz: pw·y·(σ(z) − 1) + (1 − y)·σ(z)
      let p = sigmoid(z)
      g[i] = (pw * y * (p - 1) + (1 - y) * p) * inv
    }
    return (Float(total / Double(max(n, 1))), g)
  }
}

/// DESIGN §4's hierarchical classification loss. From a malignant logit m and subtype logits s:
/// log P(class 0, benign) = log(1 − σ(m)) and log P(subtype k) = log σ(m) + log softmax(s)_k.
/// The loss is the negative log-likelihood of the label (weighted mean with class weights;
/// label −1 is ignored), equal to BCE on malignancy plus subtype cross-entropy for malignant
/// images.
public final class HierarchicalLoss {
  public let subtypes: Int
  public var classWeights: [Float]?
  private var gradM = ReusableBuffer()
  private var gradS = ReusableBuffer()

  public init(subtypes: Int, classWeights: [Float]? = nil) {
    precondition(classWeights == nil || classWeights!.count == subtypes + 1)
    self.subtypes = subtypes
    self.classWeights = classWeights
  }

  /// Log-probabilities of the 1 + subtypes classes for each row, row-major.
  public static func logProbabilities(malignant m: Tensor, subtypes s: Tensor) -> [Float] {
    let rows = m.count
    let k = s.count / max(rows, 1)
    var out = [Float](repeating: 0, count: rows * (k + 1))
    for r in 0..<rows {
      let mv = m[r]
      out[r * (k + 1)] = -softplus(mv)
      let z = s.data + r * k
      var mx = -Float.infinity
      for j in 0..<k { mx = max(mx, z[j]) }
      var sum: Float = 0
      for j in 0..<k { sum += expf(z[j] - mx) }
      let lse = mx + logf(sum)
      for j in 0..<k { out[r * (k + 1) + 1 + j] = -softplus(-mv) + z[j] - lse }
    }
    return out
  }

  /// Returns the loss and the gradients with respect to m (rows, 1) and s (rows, subtypes).
  public func callAsFunction(malignant m: Tensor, subtypes s: Tensor, labels: [Int]) -> (
    loss: Float, malignantGradient: Tensor, subtypeGradient: Tensor
  ) {
    let rows = labels.count
    let k = subtypes
    precondition(
      m.count == rows && s.count == rows * k, "hierarchical loss: m \(m.shape), s \(s.shape), \(rows) labels")
    let gm = gradM.tensor(m.shape)
    let gs = gradS.tensor(s.shape)
    var weightSum = 0.0
    for y in labels {
      precondition(y >= -1 && y <= k, "label \(y) outside 0...\(k)")
      if y >= 0 { weightSum += Double(classWeights?[y] ?? 1) }
    }
    var total = 0.0
    for r in 0..<rows {
      let y = labels[r]
      let z = s.data + r * k
      let gz = gs.data + r * k
      if y < 0 || weightSum == 0 {
        gm[r] = 0
        gz.update(repeating: 0, count: k)
        continue
      }
      let w = Double(classWeights?[y] ?? 1)
      let scale = Float(w / weightSum)
      let mv = m[r]
      if y == 0 {
        total += w * Double(softplus(mv))
        gm[r] = scale * sigmoid(mv)
        gz.update(repeating: 0, count: k)
      } else {
        var mx = -Float.infinity
        for j in 0..<k { mx = max(mx, z[j]) }
        var sum: Float = 0
        for j in 0..<k { sum += expf(z[j] - mx) }
        let lse = mx + logf(sum)
        total += w * Double(softplus(-mv) - (z[y - 1] - lse))
        gm[r] = scale * (sigmoid(mv) - 1)
        for j in 0..<k { gz[j] = scale * (expf(z[j] - lse) - (j == y - 1 ? 1 : 0)) }
      }
    }
    return (weightSum > 0 ? Float(total / weightSum) : 0, gm, gs)
  }
}

/// DESIGN §4's class-weighted binary focal loss per pixel, averaged over the pixels counted:
/// FL = −[a·y·(1−p)^γ·log p + b·(1−y)·p^γ·log(1−p)], p = σ(z). With `a = balancedWeight`
/// (background over foreground pixels) and b = 1 it is the design's loss; the logs are
/// −softplus(∓z) and 1−p is σ(−z), so nothing cancels or overflows.
public final class BinaryFocalLoss {
  public var gamma: Float
  private var grad = ReusableBuffer()

  public init(gamma: Float = 2) {
    self.gamma = gamma
  }

  /// a = N_b / N_f over the pixels of the counted images (1 when there is no foreground).
  public static func balancedWeight(targets: Tensor, include: [Bool]? = nil) -> Float {
    let n = targets.shape[0]
    let per = targets.count / max(n, 1)
    var fg = 0.0
    var all = 0.0
    for i in 0..<n where include?[i] ?? true {
      fg += sumDouble(targets.data + i * per, per)
      all += Double(per)
    }
    return fg > 0 && all > fg ? Float((all - fg) / fg) : 1
  }

  /// Loss and gradient for logits and targets of equal shape, first dimension the batch.
  /// `include[i] == false` leaves image i out (no mask): no loss, zero gradient.
  public func callAsFunction(
    _ logits: Tensor, targets: Tensor, positiveWeight a: Float, negativeWeight b: Float = 1,
    include: [Bool]? = nil
  ) -> (loss: Float, gradient: Tensor) {
    precondition(logits.count == targets.count, "logits \(logits.shape) vs targets \(targets.shape)")
    let n = logits.shape[0]
    let per = logits.count / max(n, 1)
    precondition(include == nil || include!.count == n)
    let g = grad.tensor(logits.shape)
    let counted = (0..<n).filter { include?[$0] ?? true }.count
    let denom = Float(counted * per)
    let gm = gamma
    let ranges = chunkRanges(n, parts: Threads.chunks)
    var partial = [Double](repeating: 0, count: ranges.count)
    partial.withUnsafeMutableBufferPointer { part in
      parallelFor(ranges.count) { t in
        var acc = 0.0
        for i in ranges[t] {
          let z = logits.data + i * per
          let y = targets.data + i * per
          let gi = g.data + i * per
          if !(include?[i] ?? true) || denom == 0 {
            gi.update(repeating: 0, count: per)
            continue
          }
          for j in 0..<per {
            let zv = z[j]
            let yv = y[j]
            let logP = -softplus(-zv)
            let log1mP = -softplus(zv)
            let p = sigmoid(zv)
            let q = sigmoid(-zv)
            let qg = gm == 2 ? q * q : powf(q, gm)
            let pg = gm == 2 ? p * p : powf(p, gm)
            acc -= Double(a * yv * qg * logP + b * (1 - yv) * pg * log1mP)
            let d1 = a * yv * qg * (q - gm * p * logP)
            let d2 = b * (1 - yv) * pg * (gm * q * log1mP - p)
            gi[j] = -(d1 + d2) / denom
          }
        }
        part[t] = acc
      }
    }
    let total = partial.reduce(0, +)
    return (denom > 0 ? Float(total / Double(denom)) : 0, g)
  }
}
