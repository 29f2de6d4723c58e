/// Where the encoder and column stages apply their dropout relative to batch normalisation: the
/// issue-17 experiment on the training instability (validation accuracy swinging while the
/// training loss falls).
///
/// The paper's network ends every stage with dropout, which then feeds the next stage's batch
/// norm: in training that norm's running statistics are gathered on dropout-scaled activations,
/// and at inference they are applied to activations without dropout, whose variance is smaller
/// (the "variance shift" of Li et al., CVPR 2019). Their first remedy is to apply dropout only
/// after the last batch norm; in this network that is the classification head's dropout (global
/// average pool, dropout, dense), so `afterNorm` turns the stages' dropouts off and keeps the
/// head's. The transformer bottleneck's own dropout (feeding layer norms, which keep no running
/// statistics) is not affected. No parameter changes, so a checkpoint trained either way loads and
/// predicts the same way; the order is recorded in the checkpoint's training record.
public enum DropoutOrder: String, Sendable, Codable, CaseIterable {
  /// The paper's layer order (the default).
  case beforeNorm = "before-norm"
  /// Dropout only after the last batch norm (the classification head's).
  case afterNorm = "after-norm"
}
