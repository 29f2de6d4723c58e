import CaseStore

/// Settings of a retraining: the job's trigger `options` first, then the workspace settings
/// `retrain_epochs`, `retrain_patience`, `retrain_batch`, `retrain_lr`, then these defaults
/// (a fine-tuning of a trained model: fewer epochs and a lower rate than training from scratch).
public struct RetrainingSettings: Equatable, Sendable {
  public var epochs = 10
  public var patience = 3
  public var batch = 32
  public var lr: Float = 3e-4
  public var seed: UInt64 = 0
  /// Smoke tests: stop each epoch after this many batches.
  public var maxBatches: Int?

  public init() {}

  public static func resolve(job: TrainingJob, store: any ModelRegistryStore) -> RetrainingSettings {
    var o = RetrainingSettings()
    func value(_ key: String) -> Double? {
      if let v = job.trigger["options"]?[key]?.doubleValue { return v }
      return (try? store.setting("retrain_" + key)).flatMap { $0 }.flatMap(Double.init)
    }
    if let v = value("epochs"), v >= 1 { o.epochs = Int(v) }
    if let v = value("patience"), v >= 1 { o.patience = Int(v) }
    if let v = value("batch"), v >= 1 { o.batch = Int(v) }
    if let v = value("lr"), v > 0, v.isFinite { o.lr = Float(v) }
    if let v = value("seed"), v >= 0 { o.seed = UInt64(v) }
    if let v = value("max_batches"), v >= 1 { o.maxBatches = Int(v) }
    return o
  }
}
