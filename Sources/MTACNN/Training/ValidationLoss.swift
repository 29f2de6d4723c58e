/// The validation loss of a model as training measures it (inference mode, no augmentation, the
/// model's stain normalisation, batches of `batchSize` so the mask loss's a = N_b/N_f is counted
/// as in training), for callers that only score a model: the retraining gate compares a
/// candidate's loss with the promoted model's. Nothing here can change a weight, so no optimiser
/// or training data are involved.
public enum ValidationLoss {
  /// The mean combined loss (classification + λ · mask) of `tasks` (default: every task of the
  /// model) over `examples`; nil when none of them has a label or mask those tasks can score, or
  /// when the loss is not finite.
  public static func measure(
    _ model: MTACNNModel, on examples: [Example], batchSize: Int, lambda: Float = TrainingOptions().lambda,
    tasks: Set<ModelTask>? = nil
  ) -> Double? {
    let tasks = tasks ?? Set(model.tasks)
    let scorable = examples.contains {
      (tasks.contains(.cls) && $0.classIndex != nil) || (tasks.contains(.seg) && $0.mask != nil)
    }
    guard scorable, batchSize >= 1 else { return nil }
    let loss = MultiTaskLoss(schema: model.schema, lambda: lambda)
    let assembler = BatchAssembler(
      size: model.size, augmentation: nil, stain: model.configuration.stainNormalisation)
    model.isTraining = false
    var sum = 0.0
    var i = 0
    while i < examples.count {
      let batch = Array(examples[i..<min(examples.count, i + batchSize)])
      i += batchSize
      let (x, t) = assembler.assemble(batch)
      sum += Double(loss(model.forward(x), t, tasks: tasks).total) * Double(batch.count)
    }
    let mean = sum / Double(examples.count)
    return mean.isFinite ? mean : nil
  }
}
