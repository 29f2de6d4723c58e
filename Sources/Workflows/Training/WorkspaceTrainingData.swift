import CaseStore
import Foundation
import Imaging
import MTACNN

/// The workspace as a training source (issue 4): each case's label is its adjudicated label when it
/// has one, else the label most of its raters currently give (a tie goes to the import's reference
/// label when that is among the tied, else the case trains without a label), else the reference
/// label; its mask is the adjudication's, else the newest current rater mask, else the imported
/// reference mask. The split is the workspace's own (fixed per case at import). The test split is
/// never loaded.
///
/// The store's label schema maps to the model's classes by position (the store keeps the model's
/// class order).
public enum WorkspaceTrainingData {
  public struct Loaded {
    public var train: [Example]
    public var validation: [Example]
    /// The newest annotation the data include (recorded with the model for retraining triggers).
    public var throughAnnotation: Int64
  }

  /// A model schema for a workspace's label schema: hierarchical when the first group holds only
  /// the first class (the negative class), flat otherwise.
  public static func classSchema(_ s: LabelSchema) -> ClassSchema {
    if let known = ClassSchema.named(s.name), known.classes.count == s.classes.count { return known }
    let first = s.groups.first
    let hierarchical =
      first != nil && s.classes.count >= 3 && s.classes[0].group == first
      && s.classes.dropFirst().allSatisfy { $0.group != first }
    return ClassSchema(name: s.name, classes: s.classNames, hierarchical: hierarchical)
  }

  /// `progress(done, total)` after each case; `skipped` gets one line per case that cannot be
  /// read (the others still load).
  public static func load(
    store: any RetrainingStore, model: MTACNNModel, parts: Set<SplitPart> = [.train, .val],
    progress: (Int, Int) -> Void = { _, _ in }, skipped: (String) -> Void
  ) throws(WorkflowError) -> Loaded {
    let schema = store.labelSchema
    guard schema.classes.count == model.classCount else {
      throw WorkflowError(
        "the workspace's label schema \(schema.name) has \(schema.classes.count) classes, the model \(model.classCount) (\(model.schema.classes.joined(separator: ", ")))"
      )
    }
    let through: Int64
    do { through = try store.latestAnnotationID() } catch { throw WorkflowError(error) }
    var records: [CaseRecord] = []
    var after: Int64 = 0
    while true {
      let page: [CaseRecord]
      do { page = try store.cases(afterID: after, limit: 5000, viewer: .system) } catch {
        throw WorkflowError(error)
      }
      guard let last = page.last else { break }
      records += page.filter { parts.contains(part($0.split)) }
      after = last.id
    }
    let pre = model.configuration.preprocessing
    var train: [Example] = []
    var val: [Example] = []
    for (i, rec) in records.enumerated() {
      progress(i + 1, records.count)
      do {
        let (label, maskID) = try labelAndMask(store: store, record: rec)
        let classIndex = label.flatMap { schema.classNames.firstIndex(of: $0) }
        if classIndex == nil && maskID == nil { continue }
        let image = try store.trainingImage(rec)
        var mask: Mask? = nil
        if let maskID {
          var m = try store.mask(id: maskID)
          if m.width != image.width || m.height != image.height {
            m = m.resized(width: image.width, height: image.height)
          }
          mask = MaskRule.expert.nucleusMask(
            fromMask: Mask(width: m.width, height: m.height, values: m.values.map { $0 >= 128 ? 255 : 0 }))
        }
        let input = pre.resized(image)
        let ex = Example(
          image: input, classIndex: classIndex, mask: mask.map(pre.mask), part: part(rec.split),
          name: "case \(rec.id)", sourceWidth: image.width, sourceHeight: image.height,
          colour: ColourStatistics(input, excluding: pre.cornerBlank))
        if ex.part == .train { train.append(ex) } else if ex.part == .val { val.append(ex) }
      } catch {
        skipped("skipped case \(rec.id): \(error)")
      }
    }
    return Loaded(train: train, validation: val, throughAnnotation: through)
  }

  public static func part(_ s: Split) -> SplitPart {
    switch s {
    case .train: return .train
    case .val: return .val
    case .test: return .test
    }
  }

  /// The training label and mask of a case (see the type's comment for the precedence).
  public static func labelAndMask(store: any RetrainingStore, record: CaseRecord) throws -> (String?, Int64?)
  {
    let sources = try store.trainingLabelSources(case: record.id)
    let current = sources.current
    var label = sources.adjudicatedLabel
    if label == nil {
      var votes: [String: Int] = [:]
      for a in current { if let l = a.label { votes[l, default: 0] += 1 } }
      if let top = votes.values.max() {
        let tied = votes.filter { $0.value == top }.map(\.key)
        if tied.count == 1 {
          label = tied[0]
        } else if let r = record.referenceLabel, tied.contains(r) {
          label = r
        }
      } else {
        label = record.referenceLabel
      }
    }
    var maskID = sources.adjudicatedMask
    if maskID == nil {
      maskID =
        current.filter { $0.maskID != nil }.max {
          $0.createdAt < $1.createdAt || ($0.createdAt == $1.createdAt && $0.id < $1.id)
        }?.maskID
    }
    if maskID == nil { maskID = sources.referenceMask }
    return (label, maskID)
  }
}
