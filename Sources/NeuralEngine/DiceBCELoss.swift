/// Issue 17's boundary-aware mask loss: per image i, the binary cross-entropy averaged over its
/// pixels plus the soft Dice loss 1 − (2·Σ p·y + s)/(Σ p + Σ y + s), p = σ(z), s = 1; the images
/// counted are averaged with weights w_i: Σ_i w_i (bce_i + dice_i) / Σ_i w_i. The Dice term scores
/// the overlap of the whole nucleus (what the metric measures, per image), which the per-pixel
/// focal loss does not; the weights let expert masks count more than weak ones. The reference is
/// `dice_bce_loss` in tools/torch/mtacnn.py.
///
/// Gradient: ∂/∂z_ij = w_i/W · [(p_ij − y_ij)/P − (2·y_ij·(U_i + s) − (2·I_i + s))/(U_i + s)² · p_ij(1 − p_ij)]
/// with I_i = Σ_j p·y, U_i = Σ_j p + Σ_j y, P pixels per image and W = Σ w over the counted images.
public final class DiceBCELoss {
  public let smooth: Float
  private var grad = ReusableBuffer()

  public init(smooth: Float = 1) {
    self.smooth = smooth
  }

  /// Loss and gradient for logits and 0/1 targets of equal shape, first dimension the batch.
  /// `include[i] == false` leaves image i out (no mask); `weights[i]` (default 1, ≥ 0) weighs image
  /// i. With no weight left the loss is 0 and the gradient zero.
  public func callAsFunction(
    _ logits: Tensor, targets: Tensor, include: [Bool]? = nil, weights: [Float]? = nil
  ) -> (loss: Float, gradient: Tensor) {
    precondition(logits.count == targets.count, "logits \(logits.shape) vs targets \(targets.shape)")
    let n = logits.shape[0]
    let per = logits.count / max(n, 1)
    precondition(include == nil || include!.count == n)
    precondition(weights == nil || (weights!.count == n && weights!.allSatisfy { $0 >= 0 && $0.isFinite }))
    let w = (0..<n).map { (include?[$0] ?? true) ? (weights?[$0] ?? 1) : 0 }
    let total = w.reduce(0, +)
    let g = grad.tensor(logits.shape)
    let s = smooth
    var parts = [Double](repeating: 0, count: n)
    parts.withUnsafeMutableBufferPointer { part in
      parallelFor(n) { i in
        let z = logits.data + i * per
        let y = targets.data + i * per
        let gi = g.data + i * per
        guard w[i] > 0, total > 0 else {
          gi.update(repeating: 0, count: per)
          part[i] = 0
          return
        }
        var bce = 0.0
        var inter = 0.0
        var union = 0.0
        for j in 0..<per {
          let zv = z[j]
          let yv = y[j]
          // softplus(z) − y·z = −[y log p + (1 − y) log(1 − p)]
          bce += Double(softplus(zv) - yv * zv)
          let p = sigmoid(zv)
          inter += Double(p * yv)
          union += Double(p + yv)
        }
        let num = 2 * inter + Double(s)
        let den = union + Double(s)
        part[i] = Double(w[i]) * (bce / Double(per) + 1 - num / den)
        let scale = w[i] / total
        let invP = 1 / Float(per)
        let a = Float(2 * den / (den * den))
        let b = Float(num / (den * den))
        for j in 0..<per {
          let p = sigmoid(z[j])
          let yv = y[j]
          let dDice = -(a * yv - b) * p * (1 - p)
          gi[j] = scale * ((p - yv) * invP + dDice)
        }
      }
    }
    let loss = total > 0 ? Float(parts.reduce(0, +) / Double(total)) : 0
    return (loss, g)
  }
}
