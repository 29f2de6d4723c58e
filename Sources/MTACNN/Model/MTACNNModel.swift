import NeuralEngine

/// Where in the network a feature map can be kept from the forward pass and its gradient taken in a
/// backward pass: the pre-pool output of a stage (what skips and Grad-CAM use), or the input image.
public enum ActivationPoint: Hashable, Sendable, CustomStringConvertible {
  case input
  case encoderStage1
  case encoderStage2
  case stage3(ModelTask)
  /// The last stage of a task column; `.stage4(.cls)` is Grad-CAM's layer (issue 9).
  case stage4(ModelTask)

  public var description: String {
    switch self {
    case .input: return "input"
    case .encoderStage1: return "encoder.stage1"
    case .encoderStage2: return "encoder.stage2"
    case .stage3(let t): return "\(t).stage3"
    case .stage4(let t): return "\(t).stage4"
    }
  }
}

/// What one forward pass computed. Tensors are views of the model's buffers, valid until the next
/// forward pass.
public struct ModelOutput {
  /// The classification head's raw outputs (nil when the model has no `cls` task or it was not asked for).
  public var classification: ClassificationOutput?
  /// One nucleus logit per pixel, [B, 1, S, S] (nil without `seg`, or when not asked for).
  public var maskLogits: Tensor?
}

/// MTA-CNN as BlastView builds it (DESIGN §4; docs/checkpoint-format.md §2 and §4), made of the
/// neural engine's layers in the llm.c way: forward and backward over buffers allocated once.
///
/// - shared encoder `encoder.stage1` (3 → c1), `encoder.stage2` (c1 → c2);
/// - per task a column `<t>.stage3`, `<t>.stage4`, with a TTC unit after each
///   (`<t>.ttc3`, `<t>.ttc4`): y_p = x_p + Σ_q sigmoid(beta_{p←q}) ⊙ x_q, alpha[p][p] = 1, for the
///   sources listed in the configuration's `ttc_from` (a task added later reads frozen ones, which
///   never read back);
/// - `cls`: global average pool, dropout, hierarchical (malignant + subtypes) or flat head;
/// - `seg`: transformer bottleneck, four decoder blocks with skips, 1×1 output; optionally
///   (`seg_stem`, issue 17) its own full-resolution stem on the image joining block 4's skip.
///
/// Parameter groups are the unit of freezing: `encoder`, and per task `<t>.column` (stages and TTC
/// betas) and `<t>.head`. `freeze(_:)` freezes a task's groups plus the columns of every task it
/// reads from (and the encoder), so a frozen task's inputs and outputs cannot change while another
/// task trains; frozen parts run in inference mode (running statistics, no dropout).
///
/// Explanations (issue 9) use `forward(_:heads:retain:)` to keep feature maps and
/// `gradients(classification:mask:at:)` to take gradients at them without touching any parameter.
public final class MTACNNModel: ModeSwitching {
  public let configuration: ModelConfiguration
  public let schema: ClassSchema
  public let store: ParameterStore
  public let tasks: [ModelTask]
  /// Which tasks each task reads through its TTC units.
  public let sources: [ModelTask: [ModelTask]]

  let stage1: EncoderStage
  let stage2: EncoderStage
  let stage3: [ModelTask: EncoderStage]
  let stage4: [ModelTask: EncoderStage]
  let ttc3: [ModelTask: TaskConnectionUnit]
  let ttc4: [ModelTask: TaskConnectionUnit]
  let head: ClassificationHead?
  let decoder: SegmentationDecoder?

  /// Feature maps copied during the last forward pass (the points asked for with `retain`).
  public private(set) var retained: [ActivationPoint: Tensor] = [:]

  // Saved by forward for backward (views of layer buffers).
  private var saved: Saved?
  private struct Saved {
    var f1: Tensor
    var f2: Tensor
    var pre3: [ModelTask: Tensor] = [:]
    var out3: [ModelTask: Tensor] = [:]
    var pre4: [ModelTask: Tensor] = [:]
    var out4: [ModelTask: Tensor] = [:]
    var columns: [ModelTask] = []
    var heads: Set<ModelTask> = []
  }
  private var gradOut3: [ModelTask: ReusableBuffer] = [:]
  private var gradOut4: [ModelTask: ReusableBuffer] = [:]
  private var gradEncoder = ReusableBuffer()
  private var zeros = ReusableBuffer()
  private var retainedBuffers: [ActivationPoint: ReusableBuffer] = [:]

  /// Builds the network for a configuration with initial values drawn from `seed` (each parameter
  /// from its own stream, so the values do not depend on construction order).
  public init(configuration c: ModelConfiguration, seed: UInt64 = 0) throws(ModelError) {
    do {
      try c.validate()
    } catch {
      throw .unsupportedConfiguration(error.message)
    }
    guard c.bnEps == 1e-5, c.bnMomentum == 0.1, c.lnEps == 1e-5 else {
      throw .unsupportedConfiguration(
        "bn_eps \(c.bnEps), bn_momentum \(c.bnMomentum), ln_eps \(c.lnEps): the engine's layers use 1e-5, 0.1 and 1e-5"
      )
    }
    guard c.dropout >= 0, c.dropout < 1, c.transformerDropout >= 0, c.transformerDropout < 1 else {
      throw .unsupportedConfiguration("dropout \(c.dropout) / \(c.transformerDropout) outside [0, 1)")
    }
    guard c.channels.allSatisfy({ $0 > 0 }), c.decoderChannels.allSatisfy({ $0 > 0 }),
      c.transformerDepth >= 0,
      c.transformerMLP > 0, c.transformerWidth > 0
    else { throw .unsupportedConfiguration("channel counts and widths must be positive") }
    let schema: ClassSchema
    if let known = ClassSchema.named(c.schema), known.classes == c.classes,
      known.hierarchical == c.hierarchical
    {
      schema = known
    } else {
      guard c.classes.count >= 2 else { throw .unsupportedConfiguration("at least two classes are needed") }
      schema = ClassSchema(name: c.schema, classes: c.classes, hierarchical: c.hierarchical)
    }
    var taskList: [ModelTask] = []
    for t in c.tasks {
      guard let task = ModelTask(rawValue: t) else { throw .invalidTasks("unknown task \(t)") }
      if !taskList.contains(task) { taskList.append(task) }
    }
    taskList.sort()
    var src: [ModelTask: [ModelTask]] = [:]
    for t in taskList {
      src[t] = (c.ttcFrom[t.rawValue] ?? []).compactMap(ModelTask.init(rawValue:)).filter { $0 != t }.sorted()
    }
    configuration = c
    self.schema = schema
    tasks = taskList
    sources = src
    let st = ParameterStore(seed: seed)
    store = st
    let ch = c.channels
    let p = Float(c.dropout)
    stage1 = EncoderStage(
      st, name: "encoder.stage1", group: encoderGroup, inChannels: 3, outChannels: ch[0], dropout: p,
      seed: seed)
    stage2 = EncoderStage(
      st, name: "encoder.stage2", group: encoderGroup, inChannels: ch[0], outChannels: ch[1], dropout: p,
      seed: seed)
    var s3: [ModelTask: EncoderStage] = [:]
    var s4: [ModelTask: EncoderStage] = [:]
    var t3: [ModelTask: TaskConnectionUnit] = [:]
    var t4: [ModelTask: TaskConnectionUnit] = [:]
    for t in taskList {
      let g = t.columnGroup
      s3[t] = EncoderStage(
        st, name: "\(t).stage3", group: g, inChannels: ch[1], outChannels: ch[2], dropout: p, seed: seed)
      s4[t] = EncoderStage(
        st, name: "\(t).stage4", group: g, inChannels: ch[2], outChannels: ch[3], dropout: p, seed: seed)
      t3[t] = TaskConnectionUnit(
        st, task: t, level: 3, sources: src[t]!, channels: ch[2], betaInit: Float(c.betaInit))
      t4[t] = TaskConnectionUnit(
        st, task: t, level: 4, sources: src[t]!, channels: ch[3], betaInit: Float(c.betaInit))
      gradOut3[t] = ReusableBuffer()
      gradOut4[t] = ReusableBuffer()
    }
    stage3 = s3
    stage4 = s4
    ttc3 = t3
    ttc4 = t4
    head =
      taskList.contains(.cls)
      ? ClassificationHead(
        st, features: ch[3], classes: c.classes.count, hierarchical: c.hierarchical, dropout: p, seed: seed)
      : nil
    decoder = taskList.contains(.seg) ? SegmentationDecoder(st, configuration: c, seed: seed) : nil
    st.finalize()
  }

  public var size: Int { configuration.size }
  public var classCount: Int { configuration.classes.count }

  // MARK: Modes and freezing

  private var parts: [(String, ModeSwitching)] {
    var out: [(String, ModeSwitching)] = [(encoderGroup, stage1), (encoderGroup, stage2)]
    for t in tasks {
      out.append((t.columnGroup, stage3[t]!))
      out.append((t.columnGroup, stage4[t]!))
    }
    if let head { out.append((ModelTask.cls.headGroup, head)) }
    if let decoder { out.append((ModelTask.seg.headGroup, decoder)) }
    return out
  }

  private var trainingRequested = false

  /// Where the stages' dropout sits relative to batch normalisation (issue 17). Changing it takes
  /// effect at once in training mode; inference has no dropout either way.
  public var dropoutOrder: DropoutOrder = .beforeNorm {
    didSet { isTraining = trainingRequested }
  }

  /// The encoder and column stages, in forward order.
  var stages: [EncoderStage] {
    [stage1, stage2] + tasks.map { stage3[$0]! } + tasks.map { stage4[$0]! }
  }

  /// Training mode for every part whose group is not frozen; frozen parts always run in inference
  /// mode, so neither their batch-norm statistics nor their outputs change.
  public var isTraining: Bool {
    get { trainingRequested }
    set {
      trainingRequested = newValue
      for (group, part) in parts { part.isTraining = newValue && !store.isFrozen(group) }
      // After-norm: no dropout feeds a batch norm; a stage's dropout stays the identity, so its
      // backward passes the gradient through unchanged (Dropout records this per forward).
      if dropoutOrder == .afterNorm { for s in stages { s.dropout.isTraining = false } }
    }
  }

  /// Inference mode with every convolution keeping its prepared kernel between calls (recomputed
  /// when the parameter store's version moves, e.g. after an optimiser step or a load).
  public func prepareForInference() {
    isTraining = false
    for c in convolutions(batch: 1) { c.conv.cachesKernels = true }
  }

  /// Tasks whose outputs depend on `task`'s column: the task itself and every task it reads from,
  /// transitively.
  public func dependencies(of task: ModelTask) -> Set<ModelTask> {
    var seen: Set<ModelTask> = []
    var todo = [task]
    while let t = todo.popLast() {
      guard seen.insert(t).inserted else { continue }
      todo += sources[t] ?? []
    }
    return seen
  }

  /// The groups frozen when `frozenTasks` are: each frozen task's column and head, the column of
  /// every task a frozen task reads from, and the shared encoder (the reference's
  /// `frozen_parameter_names`).
  public func frozenGroups(for frozenTasks: Set<ModelTask>) -> Set<String> {
    guard !frozenTasks.isEmpty else { return [] }
    var groups: Set<String> = [encoderGroup]
    for t in frozenTasks {
      groups.insert(t.headGroup)
      for d in dependencies(of: t) { groups.insert(d.columnGroup) }
    }
    return groups
  }

  /// The frozen tasks, as last set by `freeze(_:)`.
  public private(set) var frozenTasks: Set<ModelTask> = []

  /// Freezes `frozenTasks` (replacing any earlier freezing). Refuses a task the model lacks, and
  /// freezing every task (nothing would train).
  public func freeze(_ frozenTasks: Set<ModelTask>) throws(ModelError) {
    for t in frozenTasks where !tasks.contains(t) {
      throw .invalidFreeze(
        "the model has no \(t) task (it has \(tasks.map(\.rawValue).joined(separator: ", ")))")
    }
    guard frozenTasks.isEmpty || frozenTasks.count < tasks.count else {
      throw .invalidFreeze("every task of the model would be frozen: nothing left to train")
    }
    for g in store.groups { store.unfreeze(g) }
    for g in frozenGroups(for: frozenTasks) { store.freeze(g) }
    self.frozenTasks = frozenTasks
    isTraining = trainingRequested
  }

  /// Names of every tensor (parameters and running statistics) in frozen groups.
  public var frozenTensorNames: [String] {
    store.parameters.filter { store.isFrozen($0.group) }.map(\.name)
  }

  /// Tasks whose loss can change some trainable parameter.
  public var trainedTasks: [ModelTask] { tasks.filter { !frozenTasks.contains($0) } }

  // MARK: Forward

  /// Forward pass of a batch [B, 3, S, S] (RGB in [0, 1] after the configured preprocessing).
  ///
  /// `heads` limits which outputs are computed (default: every task); columns another requested
  /// task reads are still run. `retain` copies those feature maps into `retained` (for
  /// explanations: views of layer buffers would be overwritten by a later backward pass).
  @discardableResult
  public func forward(_ x: Tensor, heads: Set<ModelTask>? = nil, retain: Set<ActivationPoint> = [])
    -> ModelOutput
  {
    let s = configuration.size
    precondition(
      x.shape.count == 4 && x.shape[1] == 3 && x.shape[2] == s && x.shape[3] == s,
      "MTACNN: expected B×3×\(s)×\(s) input, got \(x.shape)")
    let wanted = (heads ?? Set(tasks)).intersection(tasks)
    var needed: Set<ModelTask> = []
    for t in wanted { needed.formUnion(dependencies(of: t)) }
    if wanted.contains(.seg) { needed.insert(.seg) }
    let columns = tasks.filter { needed.contains($0) }

    retained = [:]
    func keep(_ p: ActivationPoint, _ t: Tensor) {
      guard retain.contains(p) else { return }
      var buf = retainedBuffers[p] ?? ReusableBuffer()
      let copy = buf.tensor(t.shape)
      copy.copy(from: t)
      retainedBuffers[p] = buf
      retained[p] = copy
    }
    keep(.input, x)
    let (f1, p1) = stage1.forward(x)
    keep(.encoderStage1, f1)
    let (f2, p2) = stage2.forward(p1)
    keep(.encoderStage2, f2)
    var sv = Saved(f1: f1, f2: f2)
    sv.columns = columns
    sv.heads = wanted
    for t in columns {
      let (f, o) = stage3[t]!.forward(p2)
      sv.pre3[t] = f
      sv.out3[t] = o
      keep(.stage3(t), f)
    }
    var mixed3: [ModelTask: Tensor] = [:]
    for t in columns {
      mixed3[t] = ttc3[t]!.forward(own: sv.out3[t]!, others: sources[t]!.map { sv.out3[$0]! })
    }
    for t in columns {
      let (f, o) = stage4[t]!.forward(mixed3[t]!)
      sv.pre4[t] = f
      sv.out4[t] = o
      keep(.stage4(t), f)
    }
    var mixed4: [ModelTask: Tensor] = [:]
    for t in columns {
      mixed4[t] = ttc4[t]!.forward(own: sv.out4[t]!, others: sources[t]!.map { sv.out4[$0]! })
    }
    var output = ModelOutput()
    if wanted.contains(.cls), let head {
      output.classification = head.forward(mixed4[.cls]!)
    }
    if wanted.contains(.seg), let decoder {
      output.maskLogits = decoder.forward(
        mixed4[.seg]!, skips: [sv.pre4[.seg]!, sv.pre3[.seg]!, f2, f1], image: x)
    }
    saved = sv
    return output
  }

  // MARK: Backward

  /// Backward pass after `forward`, from the loss gradients of the outputs (nil: that output does
  /// not reach the loss). Adds the gradient of every parameter that learns into the gradient arena
  /// (call `store.zeroGradients()` first); frozen groups get none, and a part's input gradient is
  /// computed only when something before it still learns.
  public func backward(classification: ClassificationOutput?, mask: Tensor?) {
    _ = run(classification: classification, mask: mask, policy: .training, captures: [])
  }

  /// Gradients of the given output gradients at feature maps (and/or the input), without changing
  /// any parameter or its gradient: the backward pass of Grad-CAM and saliency (issue 9). Call it
  /// after a `forward` that computed the outputs involved, usually in inference mode.
  public func gradients(
    classification: ClassificationOutput?, mask: Tensor?, at points: Set<ActivationPoint>
  ) -> [ActivationPoint: Tensor] {
    let before = store.frozen
    for g in store.groups { store.freeze(g) }
    defer {
      for g in store.groups where !before.contains(g) { store.unfreeze(g) }
    }
    return run(classification: classification, mask: mask, policy: .explain, captures: points)
  }

  private enum Policy { case training, explain }

  private func run(
    classification dCls: ClassificationOutput?, mask dMask: Tensor?, policy: Policy,
    captures: Set<ActivationPoint>
  ) -> [ActivationPoint: Tensor] {
    guard let sv = saved else { preconditionFailure("MTACNN: backward before forward") }
    let explain = policy == .explain
    func learns(_ g: String) -> Bool { !store.isFrozen(g) }
    let encoderLearns = explain || learns(encoderGroup)
    func columnLearns(_ t: ModelTask) -> Bool { explain || learns(t.columnGroup) }
    // Something before mixed3[t] (stage 3 of t and its sources, or the encoder) learns.
    func learnsBeforeMixed3(_ t: ModelTask) -> Bool {
      encoderLearns || columnLearns(t) || sources[t]!.contains(where: columnLearns)
    }
    // Something before mixed4[t] learns.
    func learnsBeforeMixed4(_ t: ModelTask) -> Bool {
      learnsBeforeMixed3(t) || sources[t]!.contains(where: learnsBeforeMixed3)
    }
    var captured: [ActivationPoint: Tensor] = [:]
    var remaining = captures
    func capture(_ p: ActivationPoint, _ t: Tensor) {
      guard remaining.contains(p) else { return }
      let copy = Tensor(shape: t.shape)
      copy.copy(from: t)
      captured[p] = copy
      remaining.remove(p)
    }
    func done() -> Bool { explain && remaining.isEmpty }

    // Heads.
    var dMixed4: [ModelTask: Tensor] = [:]
    if let dCls, let head, sv.heads.contains(.cls) {
      let want = learnsBeforeMixed4(.cls)
      if explain || learns(ModelTask.cls.headGroup) || want {
        if let g = head.backward(dCls, wantInput: want) { dMixed4[.cls] = g }
      }
    }
    var dPre4: [ModelTask: Tensor] = [:]
    var dPre3: [ModelTask: Tensor] = [:]
    var dF2: Tensor?
    var dF1: Tensor?
    // The image gradient through the segmentation stem (issue 17), added to the encoder's.
    var dImageFromStem: Tensor?
    if let dMask, let decoder, sv.heads.contains(.seg) {
      let want = learnsBeforeMixed4(.seg)
      if explain || learns(ModelTask.seg.headGroup) || want || encoderLearns {
        let (gi, skips, dImage) = decoder.backward(
          dMask, wantInput: want, stemLearns: learns(ModelTask.seg.headGroup),
          wantImage: remaining.contains(.input))
        dImageFromStem = dImage
        if let gi { dMixed4[.seg] = gi }
        dPre4[.seg] = skips[0]
        dPre3[.seg] = skips[1]
        dF2 = skips[2]
        dF1 = skips[3]
      }
    }
    if done() { return captured }

    // TTC 4: beta gradients, then the gradient reaching each column's stage-4 output.
    let dOut4 = ttc4Backward(sv, dMixed4, reaches: learnsBeforeMixed3)
    // Stage 4 of each column.
    var dMixed3: [ModelTask: Tensor] = [:]
    for t in sv.columns where dOut4[t] != nil || dPre4[t] != nil {
      guard columnLearns(t) || learnsBeforeMixed3(t) else { continue }
      let out = dOut4[t] ?? zeroTensor(sv.out4[t]!.shape)
      if let g = stageBackward(
        stage4[t]!, skip: dPre4[t], output: out, wantInput: learnsBeforeMixed3(t), point: .stage4(t),
        capture: capture, stopAfterCapture: done)
      {
        dMixed3[t] = g
      }
      if done() { return captured }
    }
    // TTC 3.
    let dOut3 = ttc3Backward(sv, dMixed3, reaches: { q in encoderLearns || columnLearns(q) })
    // Stage 3 of each column, summed into the shared encoder's output gradient.
    var dP2: Tensor?
    for t in sv.columns where dOut3[t] != nil || dPre3[t] != nil {
      guard columnLearns(t) || encoderLearns else { continue }
      let out = dOut3[t] ?? zeroTensor(sv.out3[t]!.shape)
      let g = stageBackward(
        stage3[t]!, skip: dPre3[t], output: out, wantInput: encoderLearns, point: .stage3(t),
        capture: capture,
        stopAfterCapture: done)
      if done() { return captured }
      if let g {
        if let acc = dP2 {
          accumulate(g, into: acc)
        } else {
          let e = gradEncoder.tensor(g.shape)
          e.copy(from: g)
          dP2 = e
        }
      }
    }
    guard encoderLearns else { return captured }
    let dp2 = dP2 ?? zeroTensor(stage2.pool.outputShape(for: sv.f2.shape))
    if let dp1 = stageBackward(
      stage2, skip: dF2, output: dp2, wantInput: true, point: .encoderStage2, capture: capture,
      stopAfterCapture: done)
    {
      if done() { return captured }
      let wantImage = remaining.contains(.input)
      if let dx = stageBackward(
        stage1, skip: dF1, output: dp1, wantInput: wantImage, point: .encoderStage1, capture: capture,
        stopAfterCapture: done)
      {
        if let dImageFromStem { accumulate(dImageFromStem, into: dx) }
        capture(.input, dx)
      }
    }
    return captured
  }

  /// TTC 4's backward: its beta gradients, and the stage-4 output gradient of every column that
  /// `reaches` (something before its mixed3 learns), summed in the reusable `gradOut4` buffers.
  private func ttc4Backward(
    _ sv: Saved, _ dMixed4: [ModelTask: Tensor], reaches: (ModelTask) -> Bool
  ) -> [ModelTask: Tensor] {
    var dOut4: [ModelTask: Tensor] = [:]
    func addOut4(_ t: ModelTask, _ g: Tensor, alpha: (TaskConnectionUnit, Int)?) {
      if dOut4[t] == nil {
        let buf = gradOut4[t]!.tensor(g.shape)
        buf.fill(0)
        dOut4[t] = buf
      }
      if let (unit, k) = alpha {
        unit.accumulateSourceGradient(g, source: k, into: dOut4[t]!)
      } else {
        accumulate(g, into: dOut4[t]!)
      }
    }
    for t in sv.columns {
      guard let g = dMixed4[t] else { continue }
      let unit = ttc4[t]!
      unit.backwardParameters(g)
      if reaches(t) { addOut4(t, g, alpha: nil) }
      for (k, q) in unit.sources.enumerated() where reaches(q) {
        addOut4(q, g, alpha: (unit, k))
      }
    }
    return dOut4
  }

  /// TTC 3's backward: its beta gradients, and the stage-3 output gradient of every column that
  /// `reaches` (the encoder or that column learns), summed in the reusable `gradOut3` buffers.
  private func ttc3Backward(
    _ sv: Saved, _ dMixed3: [ModelTask: Tensor], reaches: (ModelTask) -> Bool
  ) -> [ModelTask: Tensor] {
    var dOut3: [ModelTask: Tensor] = [:]
    for t in sv.columns {
      guard let g = dMixed3[t] else { continue }
      let unit = ttc3[t]!
      unit.backwardParameters(g)
      func add(_ q: ModelTask, _ alpha: Int?) {
        if dOut3[q] == nil {
          let buf = gradOut3[q]!.tensor(g.shape)
          buf.fill(0)
          dOut3[q] = buf
        }
        if let k = alpha {
          unit.accumulateSourceGradient(g, source: k, into: dOut3[q]!)
        } else {
          accumulate(g, into: dOut3[q]!)
        }
      }
      if reaches(t) { add(t, nil) }
      for (k, q) in unit.sources.enumerated() where reaches(q) { add(q, k) }
    }
    return dOut3
  }

  /// A stage's backward from its own parts (so the pre-pool gradient can be captured): dropout,
  /// max-pool, plus the skip gradient, then the two conv-BN-ReLU.
  private func stageBackward(
    _ st: EncoderStage, skip: Tensor?, output: Tensor, wantInput: Bool, point: ActivationPoint,
    capture: (ActivationPoint, Tensor) -> Void, stopAfterCapture: () -> Bool
  ) -> Tensor? {
    let dp = st.dropout.backward(output)
    let df = st.pool.backward(dp)
    if let skip { accumulate(skip, into: df) }
    capture(point, df)
    if stopAfterCapture() { return nil }
    let g = st.second.backward(df)
    if wantInput { return st.first.backward(g) }
    st.first.backwardParameters(g)
    return nil
  }

  private func zeroTensor(_ shape: [Int]) -> Tensor {
    let t = zeros.tensor(shape)
    t.fill(0)
    return t
  }

  // MARK: Sizes

  /// Trainable scalars (BatchNorm running statistics are not counted, as in PyTorch).
  public var parameterCount: Int { store.trainableCount }

  /// Floating-point operations of one forward pass over `batch` images (multiply-add = 2) as
  /// `torch.utils.flop_counter` counts them: convolutions and matrix products (dense layers,
  /// attention), not normalisation, pooling or activations. Every task's outputs are included.
  public func forwardFLOPs(batch: Int = 1) -> (total: Int, convolution: Int) {
    let conv = convolutions(batch: batch).reduce(0) { $0 + $1.conv.forwardFLOPs(for: $1.input) }
    var matmul = 0
    let c = configuration.channels
    if let head {
      for d in [head.malignant, head.subtype, head.logits].compactMap({ $0 }) {
        matmul += d.forwardFLOPs(for: [batch, c[3]])
      }
    }
    if let decoder {
      let b = decoder.bottleneck
      let tokens = (configuration.size / 16) * (configuration.size / 16)
      var t = [batch, tokens, c[3]]
      if let p = b.projectIn {
        matmul += p.forwardFLOPs(for: t)
        t = p.outputShape(for: t)
      }
      for l in b.layers {
        matmul += l.attention.forwardFLOPs(for: t) + l.linear1.forwardFLOPs(for: t)
        matmul += l.linear2.forwardFLOPs(for: l.linear1.outputShape(for: t))
      }
      if let p = b.projectOut { matmul += p.forwardFLOPs(for: t) }
    }
    return (conv + matmul, conv)
  }

  /// Every convolution with the input shape it sees at `batch`, in forward order (for the engine
  /// benchmark's per-layer timings).
  public func convolutions(batch: Int) -> [(name: String, conv: Conv2D, input: [Int])] {
    let s = configuration.size
    let c = configuration.channels
    var out: [(String, Conv2D, [Int])] = []
    func stage(_ st: EncoderStage, _ cin: Int, _ side: Int) {
      out.append((st.first.conv.name, st.first.conv, [batch, cin, side, side]))
      out.append((st.second.conv.name, st.second.conv, [batch, st.second.conv.inChannels, side, side]))
    }
    stage(stage1, 3, s)
    stage(stage2, c[0], s / 2)
    for t in tasks { stage(stage3[t]!, c[1], s / 4) }
    for t in tasks { stage(stage4[t]!, c[2], s / 8) }
    if let decoder {
      var side = s / 8
      for (i, b) in decoder.blocks.enumerated() {
        if i == 3, let stem = decoder.stem {
          out.append((stem.first.conv.name, stem.first.conv, [batch, 3, s, s]))
          out.append((stem.second.conv.name, stem.second.conv, [batch, stem.second.conv.inChannels, s, s]))
        }
        out.append((b.first.conv.name, b.first.conv, [batch, b.first.conv.inChannels, side, side]))
        out.append((b.second.conv.name, b.second.conv, [batch, b.second.conv.inChannels, side, side]))
        side *= 2
      }
      out.append((decoder.out.name, decoder.out, [batch, decoder.out.inChannels, s, s]))
    }
    return out
  }
}
