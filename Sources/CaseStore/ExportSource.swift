import Foundation
import Imaging

/// What the exports that combine several reads need (`cases.csv`, `--final` and
/// `--include-reference` masks, COCO), specified once for both backends so an export holds
/// the same rows whichever store it came from. `CaseStore` applies the blinding in its
/// queries, `PostgresStore` in the server's functions (migrations `pg-v4-export`, `pg-v6-app`);
/// the code here only combines what the viewer was given.
public protocol ExportSource: ReviewStore {
  /// Writes an export into `options.outDirectory` (created if needed), each file atomically.
  func export(_ options: ExportOptions) throws(StoreError) -> ExportSummary
  /// The cases an export or a study report covers: the session's when given, else every case.
  func caseIDs(session: String?) throws(StoreError) -> [Int64]
  /// Each rater's current mask (in `session` when given), as `viewer` may see them.
  func currentMasks(session: String?, viewer: Viewer) throws(StoreError) -> [RaterMask]
  /// Each rater's current label of every case, as `viewer` may see them.
  func currentLabels(viewer: Viewer) throws(StoreError) -> [RaterLabel]
  /// The PNG of a stored mask the viewer was given the id of.
  func exportMaskPNG(id: Int64) throws(StoreError) -> [UInt8]
  /// The folder COCO's `file_name`s are relative to (nil: the stored, import-relative path).
  func exportImageRoot() throws(StoreError) -> String?
}

extension CaseStore: ExportSource {
  public func exportMaskPNG(id: Int64) throws(StoreError) -> [UInt8] { try maskPNG(id: id) }
  public func exportImageRoot() throws(StoreError) -> String? { try imageRoot() }
}

extension ExportSource {
  /// `--format masks` (each rater's current mask, or with `final` each case's final mask) and
  /// `--format coco`, written into `out` (which exists).
  func exportMasksOrCOCO(_ options: ExportOptions, out: String) throws(StoreError) -> ExportSummary {
    var summary = ExportSummary()
    switch options.format {
    case .masks:
      let dir = try CaseStore.exportFolder(out + "/masks")
      if !options.final {
        let masks = try currentMasks(session: options.session, viewer: options.viewer)
        summary.files = try CaseStore.writeMasks(masks, into: out) { (id: Int64) throws(StoreError) in
          try exportMaskPNG(id: id)
        }
      } else {
        // In their own folder: `<case>_<rater>.png` names cannot collide with it.
        let finalDir = try CaseStore.exportFolder(dir + "/final")
        let ids = try caseIDs(session: options.session)
        let (found, missing) = try finalMasks(caseIDs: ids, session: options.session, viewer: options.viewer)
        var rows = "case_id,file,source,by,lowest_pair_dice,note\n"
        var byCase: [Int64: String] = [:]
        for f in found {
          let path = finalDir + "/\(f.caseID).png"
          try CaseStore.writeAtomically(encodePNG(f.mask), to: path)
          summary.files.append(path)
          byCase[f.caseID] = [
            String(f.caseID), "final/\(f.caseID).png", f.source.rawValue, f.by.joined(separator: ";"),
            f.minimumDice.map { String(format: "%.4f", $0) } ?? "", f.note ?? "",
          ].map(ExportText.csvCell).joined(separator: ",")
        }
        for m in missing {
          byCase[m.caseID] = [String(m.caseID), "", "none", "", "", m.reason].map(ExportText.csvCell)
            .joined(separator: ",")
        }
        for id in ids { if let row = byCase[id] { rows += row + "\n" } }
        let listPath = dir + "/final.csv"
        try CaseStore.writeAtomically(Array(rows.utf8), to: listPath)
        summary.finalSources = CaseStore.sourceCounts(found, missing)
        summary.masks = found.count
      }
      if options.includeReference {
        let refDir = try CaseStore.exportFolder(dir + "/reference")
        for id in try caseIDs(session: options.session) {
          guard let r = try caseDetail(id: id, viewer: options.viewer).referenceMaskID else { continue }
          let path = refDir + "/\(id).png"
          try CaseStore.writeAtomically(try exportMaskPNG(id: r), to: path)
          summary.files.append(path)
        }
      }
      if options.final { summary.files.append(dir + "/final.csv") }
      summary.masks = summary.files.filter { $0.hasSuffix(".png") }.count
    case .coco:
      let (json, instances, masks, sources) = try cocoJSON(options, root: try exportImageRoot())
      summary.finalSources = sources
      let path = out + "/coco.json"
      try CaseStore.writeAtomically(ExportText.escapeUnsafeScalars(json), to: path)
      summary.files = [path]
      summary.instances = instances
      summary.masks = masks
    case .csv, .json:
      break
    }
    return summary
  }

  /// The text of `cases.csv` for `viewer` (see `CasesCSVSummary`).
  public func casesCSV(viewer: Viewer) throws(StoreError) -> (text: String, cases: Int, raters: [String]) {
    let ids = try caseIDs(session: nil)
    var details: [CaseDetail] = []
    details.reserveCapacity(ids.count)
    var raterNames = Set<String>()
    for id in ids {
      let d = try caseDetail(id: id, viewer: viewer)
      for a in d.current where a.label != nil { raterNames.insert(a.rater) }
      details.append(d)
    }
    let raters = raterNames.sorted()
    var header = [
      "case_id", "image", "sha256", "reference_label", "model_version", "model_label", "model_probability",
    ]
    header += raters.map { "rater:" + $0 }
    header += ["final_label", "final_source", "adjudicator", "adjudication_reason"]
    var text = header.map(CSV.field).joined(separator: ",") + "\n"
    for d in details {
      let p = d.prediction
      var fields = [
        String(d.record.id), d.record.path, d.record.sha256, d.record.referenceLabel ?? "",
        p.map { String($0.modelVersion) } ?? "", p?.label ?? "",
        p.map { String(format: "%.4f", $0.confidence) } ?? "",
      ]
      for r in raters { fields.append(d.current.first { $0.rater == r }?.label ?? "") }
      let final = CaseStore.finalLabel(d)
      fields += [
        final.label ?? "", final.source, d.adjudication?.adjudicator ?? "", d.adjudication?.reason ?? "",
      ]
      text += fields.map(CSV.field).joined(separator: ",") + "\n"
    }
    return (text, details.count, raters)
  }

  /// Writes `cases.csv` into `outDirectory` (created if needed), atomically.
  public func exportCasesCSV(outDirectory: String, viewer: Viewer) throws(StoreError) -> CasesCSVSummary {
    let out = Workspace.absolute(outDirectory)
    do {
      try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    } catch {
      throw Workspace.classifyWriteFailure(path: out, errno: (error as NSError).code)
    }
    let table = try casesCSV(viewer: viewer)
    let path = out + "/cases.csv"
    try CaseStore.writeAtomically(Array(table.text.utf8), to: path)
    return CasesCSVSummary(path: path, cases: table.cases, raters: table.raters)
  }

  /// The final masks of `caseIDs` (or of every case), as `viewer` may see them; the masks
  /// of raters are their current ones in `session` when given.
  public func finalMasks(caseIDs: [Int64]? = nil, session: String?, viewer: Viewer) throws(StoreError) -> (
    found: [FinalMask], missing: [MissingFinalMask]
  ) {
    let ids: [Int64]
    if let caseIDs { ids = caseIDs } else { ids = try self.caseIDs(session: nil) }
    let raterMasks = Dictionary(
      grouping: try currentMasks(session: session, viewer: viewer), by: \.caseID)
    var found: [FinalMask] = []
    var missing: [MissingFinalMask] = []
    for id in ids {
      let detail = try caseDetail(id: id, viewer: viewer)
      if let a = detail.adjudication, let m = a.maskID {
        found.append(
          FinalMask(caseID: id, source: .adjudication, mask: try storedMask(id: m), by: [a.adjudicator]))
        continue
      }
      var note: String? = nil
      let drawn = raterMasks[id] ?? []
      if drawn.count >= 2 {
        var masks: [Mask] = []
        for m in drawn { masks.append(try storedMask(id: m.maskID)) }
        if let agreed = CaseStore.agreedMask(masks) {
          found.append(
            FinalMask(
              caseID: id, source: .agreement, mask: agreed.mask, by: drawn.map(\.rater),
              minimumDice: agreed.minimumDice))
          continue
        }
        let low = CaseStore.minimumPairDice(masks)
        note =
          low.map {
            String(
              format: "%d raters' masks disagree (lowest Dice %.2f < %.2f)", drawn.count, $0,
              CaseStore.agreedMaskMinimumDice)
          } ?? "\(drawn.count) raters' masks differ in size"
      } else if drawn.count == 1 {
        note = "only \(drawn[0].rater) drew a mask"
      }
      if let r = detail.referenceMaskID {
        found.append(
          FinalMask(caseID: id, source: .reference, mask: try storedMask(id: r), by: [], note: note))
      } else {
        let why =
          detail.blinded ? "blinded for the exporting rater" : (note ?? "no mask was drawn or imported")
        missing.append(MissingFinalMask(caseID: id, reason: note.map { "\($0); no reference mask" } ?? why))
      }
    }
    return (found, missing)
  }

  /// `coco.json`. Images are named relative to the workspace's image root (`file_name`), as
  /// other tools join it to their own image folder; each instance's category is the class of
  /// the case where a label is known (the rater's own label for a rater's mask, the final
  /// label for a final mask, the import label for a reference mask), else `nucleus`.
  func cocoJSON(_ options: ExportOptions, root: String?) throws(StoreError) -> (
    [UInt8], Int, Int, [String: Int]?
  ) {
    var sources: [COCOMaskSource] = []
    var finalSources: [String: Int]? = nil
    var finalByCase: [Int64: String] = [:]
    if options.final {
      let ids = try caseIDs(session: options.session)
      let (found, missing) = try finalMasks(caseIDs: ids, session: options.session, viewer: options.viewer)
      for f in found {
        let label = CaseStore.finalLabel(try caseDetail(id: f.caseID, viewer: options.viewer)).label
        sources.append(
          COCOMaskSource(
            caseID: f.caseID, mask: f.mask, rater: nil, source: "final", label: label,
            finalSource: f.source.rawValue))
        finalByCase[f.caseID] = f.source.rawValue
      }
      finalSources = CaseStore.sourceCounts(found, missing)
    } else {
      let labels: [RaterLabel]
      if let session = options.session {
        labels = try currentLabels(session: session, viewer: options.viewer)
      } else {
        labels = try currentLabels(viewer: options.viewer)
      }
      let labelsByCaseRater = Dictionary(
        labels.map { ("\($0.caseID)/\($0.rater)", $0.label) }, uniquingKeysWith: { a, _ in a })
      for m in try currentMasks(session: options.session, viewer: options.viewer) {
        sources.append(
          COCOMaskSource(
            caseID: m.caseID, mask: try storedMask(id: m.maskID), rater: m.rater, source: "rater",
            label: labelsByCaseRater["\(m.caseID)/\(m.rater)"]))
      }
    }
    if options.includeReference {
      for id in try caseIDs(session: options.session) {
        let d = try caseDetail(id: id, viewer: options.viewer)
        guard let r = d.referenceMaskID else { continue }
        sources.append(
          COCOMaskSource(
            caseID: id, mask: try storedMask(id: r), rater: nil, source: "reference",
            label: d.record.referenceLabel
          ))
      }
    }
    let classes = labelSchema.classNames
    var categories: [JSONValue] = [
      .object(["id": .number(1), "name": .string("nucleus"), "supercategory": .string("cell")])
    ]
    for (i, name) in classes.enumerated() {
      categories.append(
        .object(["id": .number(Double(i + 2)), "name": .string(name), "supercategory": .string("nucleus")]))
    }
    var images: [JSONValue] = []
    for id in Set(sources.map(\.caseID)).sorted() {
      let c = try caseRecord(id: id, viewer: options.viewer)
      var image: [String: JSONValue] = [
        "id": .number(Double(id)), "file_name": .string(CaseStore.cocoFileName(c, root: root)),
        "width": .number(Double(c.width)), "height": .number(Double(c.height)), "sha256": .string(c.sha256),
        "reference_label": c.referenceLabel.map(JSONValue.string) ?? .null,
      ]
      if let f = finalByCase[id] { image["final_mask_source"] = .string(f) }
      images.append(.object(image))
    }
    var annotations: [JSONValue] = []
    var nextID = 1.0
    for m in sources {
      let category = m.label.flatMap { classes.firstIndex(of: $0) }.map { $0 + 2 } ?? 1
      for inst in COCORLE.instances(of: m.mask) {
        var annotation: [String: JSONValue] = [
          "id": .number(nextID), "image_id": .number(Double(m.caseID)),
          "category_id": .number(Double(category)),
          "segmentation": .object([
            "size": .array([.number(Double(m.mask.height)), .number(Double(m.mask.width))]),
            "counts": .string(inst.rle),
          ]),
          "area": .number(Double(inst.area)), "bbox": .array(inst.bbox.map { .number(Double($0)) }),
          "iscrowd": .number(0), "rater": m.rater.map(JSONValue.string) ?? .null,
          "source": .string(m.source),
          "case_label": m.label.map(JSONValue.string) ?? .null,
        ]
        if let f = m.finalSource { annotation["final_source"] = .string(f) }
        annotations.append(.object(annotation))
        nextID += 1
      }
    }
    let doc: JSONValue = .object([
      "info": .object([
        "description": .string("BlastView nucleus masks"), "version": .string("2"),
        "label_schema": .string(labelSchema.name),
        "file_names": .string("relative to the workspace's image root"),
        "masks": .string(options.final ? "final" : "raters"),
      ]),
      "images": .array(images), "annotations": .array(annotations), "categories": .array(categories),
    ])
    return (Array(CaseStore.jsonString(doc).utf8), annotations.count, sources.count, finalSources)
  }
}

/// One mask to write as instances: whose it is and what class its case has for them.
struct COCOMaskSource {
  var caseID: Int64
  var mask: Mask
  var rater: String?
  var source: String
  var label: String?
  /// With `source` final: where the final mask came from.
  var finalSource: String? = nil
}
