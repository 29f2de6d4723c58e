import MTACNN
import NeuralEngine

/// How a new model's task columns read from each other (DESIGN §4's task-to-task connections).
public enum TaskConnections: String, CaseIterable, Sendable {
  /// Every task reads every other.
  case both
  case none
  /// Segmentation reads classification; classification reads nothing.
  case segFromCls = "seg-from-cls"
  /// Classification reads segmentation; segmentation reads nothing.
  case clsFromSeg = "cls-from-seg"

  /// The tasks `task` reads, out of `tasks`.
  func sources(of task: ModelTask, in tasks: [ModelTask]) -> [ModelTask] {
    let others = tasks.filter { $0 != task }
    switch self {
    case .none: return []
    case .segFromCls: return task == .seg ? others : []
    case .clsFromSeg: return task == .cls ? others : []
    case .both: return others
    }
  }
}

/// Whether a new model blanks the scale-bar corner of its inputs.
public enum CornerBlanking: String, CaseIterable, Sendable {
  /// As the schema's defaults say (on for all4, whose images carry the scale bar).
  case auto
  case on
  case off
}

/// Stain normalisation of a new model, fitted on its training images.
public enum StainNormalisationMethod: String, CaseIterable, Sendable {
  case none
  case reinhard
  case macenko
}

/// The models a training starts from: a new one, or one continued from a checkpoint.
public enum ModelRecipe {
  /// A new model of `schema` at input size `size` (seeded initialisation). `segStem`: channels of
  /// the segmentation column's full-resolution stem (issue 17), nil for none.
  public static func newModel(
    schema: ClassSchema, size: Int, tasks: [ModelTask], connections: TaskConnections,
    blankCorner: CornerBlanking, seed: UInt64, segStem: Int? = nil
  ) throws(WorkflowError) -> MTACNNModel {
    var c = ModelConfiguration.defaults(for: schema, size: size)
    // A custom schema (a workspace's own) has no scale bar to blank unless asked.
    if schema.name != "all4" && ClassSchema.named(schema.name) == nil {
      c.blankCorner = nil
      c.sourceSize = nil
    }
    switch blankCorner {
    case .on:
      let aria = ModelConfiguration.defaults(for: .all4)
      c.blankCorner = aria.blankCorner
      c.sourceSize = aria.sourceSize
    case .off:
      c.blankCorner = nil
      c.sourceSize = nil
    case .auto: break
    }
    c.tasks = tasks.map(\.rawValue)
    var from: [String: [String]] = [:]
    for t in tasks { from[t.rawValue] = connections.sources(of: t, in: tasks).map(\.rawValue) }
    c.ttcFrom = from
    c.segStem = segStem
    do { return try MTACNNModel(configuration: c, seed: seed) } catch { throw WorkflowError(error) }
  }

  /// The model of `checkpoint` with its weights, grown to `tasks` (which must include the
  /// checkpoint's): a new task reads from the existing ones and they never read from it
  /// (DESIGN §4), so the existing tasks' outputs do not change. `segStem` gives a segmentation
  /// task added here its full-resolution stem (issue 17); an existing one keeps its architecture.
  public static func continued(
    from checkpoint: SafeTensorsFile, tasks: [ModelTask]?, seed: UInt64, segStem: Int? = nil
  )
    throws(WorkflowError) -> MTACNNModel
  {
    do {
      var c = try ModelCheckpoint.metadata(of: checkpoint).configuration
      let old = c.tasks.compactMap(ModelTask.init(rawValue:))
      let want = tasks ?? old
      guard Set(old).isSubset(of: Set(want)) else {
        throw WorkflowError(
          "the tasks must include the checkpoint's (\(old.map(\.rawValue).joined(separator: ",")))")
      }
      let added = want.filter { !old.contains($0) }
      if !added.isEmpty {
        c.tasks = want.map(\.rawValue)
        var from: [String: [String]] = [:]
        for t in want {
          from[t.rawValue] = added.contains(t) ? old.map(\.rawValue) : (c.ttcFrom[t.rawValue] ?? [])
        }
        c.ttcFrom = from
      }
      if let segStem {
        guard added.contains(.seg) else {
          throw WorkflowError(
            "a segmentation stem (\(segStem) channels) goes only to a segmentation task this training adds (the checkpoint has one already, or the tasks add none)"
          )
        }
        c.segStem = segStem
      }
      let model: MTACNNModel
      do { model = try MTACNNModel(configuration: c, seed: seed) } catch {
        // The configuration came from the file: the error names it.
        throw WorkflowError("\(checkpoint.path): \(error)")
      }
      try model.loadValues(from: checkpoint, allowMissing: Set(added))
      return model
    } catch {
      throw WorkflowError(error)
    }
  }

  /// `model` rebuilt with stain normalisation fitted on (a seeded sample of up to 200 of) the
  /// training images, with the same seed (so the same initial weights) and the same frozen tasks.
  public static func withStainNormalisation(
    _ method: StainNormalisationMethod, model: MTACNNModel, train: [Example], seed: UInt64
  ) throws(WorkflowError) -> MTACNNModel {
    guard method != .none else { return model }
    let sample = permutationSample(train.count, max: 200, seed: seed).map { PlanarImage(train[$0].image) }
    guard !sample.isEmpty else { throw WorkflowError("no training images to fit stain normalisation on") }
    var config = model.configuration
    config.stainNormalisation =
      method == .reinhard ? StainNormalisation.fitReinhard(sample) : StainNormalisation.fitMacenko(sample)
    do {
      let fitted = try MTACNNModel(configuration: config, seed: seed)
      try fitted.freeze(model.frozenTasks)
      return fitted
    } catch {
      throw WorkflowError(error)
    }
  }

  /// Up to `max` distinct indices of 0..<n, a seeded sample.
  static func permutationSample(_ n: Int, max: Int, seed: UInt64) -> [Int] {
    var a = Array(0..<n)
    var rng = SplitMix64(seed: seed ^ 0x57A1_4E00)
    for i in stride(from: n - 1, to: 0, by: -1) {
      let j = Int(rng.next() % UInt64(i + 1))
      a.swapAt(i, j)
    }
    return Array(a.prefix(max))
  }
}
