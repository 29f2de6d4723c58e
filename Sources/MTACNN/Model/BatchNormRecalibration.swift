import NeuralEngine

/// Issue 17's direct test of the dropout / batch-norm variance shift: recompute the running
/// statistics of every batch norm that trains from training batches passed **without dropout**,
/// then score validation with them. If the swings in validation accuracy come from statistics
/// gathered under dropout (see `DropoutOrder`), recalibrated statistics remove them; if they come
/// from the weights themselves, they stay.
extension MTACNNModel {
  /// Every batch norm that runs in training mode (not frozen), in forward order.
  var trainingBatchNorms: [BatchNorm2D] {
    var norms: [BatchNorm2D] = []
    for s in stages where s.isTraining { norms += [s.first.norm, s.second.norm] }
    if let decoder, decoder.isTraining {
      for b in decoder.blocks { norms += [b.first.norm, b.second.norm] }
    }
    return norms
  }

  /// A copy of every running statistic (the store's buffers), for `restoreRunningStatistics`.
  public func runningStatistics() -> [String: [Float]] {
    var out: [String: [Float]] = [:]
    for p in store.parameters where p.kind == .buffer {
      let v = p.value
      out[p.name] = (0..<v.count).map { v[$0] }
    }
    return out
  }

  /// Puts back statistics taken with `runningStatistics()` from this model.
  public func restoreRunningStatistics(_ saved: [String: [Float]]) {
    for p in store.parameters where p.kind == .buffer {
      guard let values = saved[p.name] else { continue }
      precondition(values.count == p.count, "\(p.name): \(values.count) saved values for \(p.count)")
      let v = p.value
      for i in 0..<values.count { v[i] = values[i] }
    }
    store.touch()
  }

  /// Replaces the running mean and variance of every batch norm that trains with the plain
  /// averages, over `count` batches, of its per-batch mean and unbiased variance, computed in
  /// training mode with every dropout off (stages, head and transformer). Frozen parts keep
  /// theirs. The weights, Adam state and dropout streams are untouched, so a training run that
  /// recalibrates after each epoch follows exactly the trajectory of one that does not.
  /// `batch(k)` gives the k-th input (it may reuse one buffer); `heads`: the outputs the batch
  /// norms feed (default every task).
  public func recalibrateBatchNorm(
    batches count: Int, heads: Set<ModelTask>? = nil, batch: (Int) -> Tensor
  ) {
    guard count > 0 else { return }
    let wasTraining = isTraining
    isTraining = true
    for s in stages { s.dropout.isTraining = false }
    head?.isTraining = false
    decoder?.bottleneck.isTraining = false
    let norms = trainingBatchNorms
    let momenta = norms.map(\.momentum)
    for k in 0..<count {
      // The k-th batch (from 1) enters with weight 1/k: a running average; the first overwrites.
      for n in norms { n.momentum = 1 / Float(k + 1) }
      forward(batch(k), heads: heads)
    }
    for (n, m) in zip(norms, momenta) { n.momentum = m }
    isTraining = wasTraining
    store.touch()
  }
}
