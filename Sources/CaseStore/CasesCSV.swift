import Foundation
import GRDB

/// `cases.csv` (issue 18): one row per case with everything a study needs in one table: the
/// reference label from import, the promoted model's prediction and its probability, each
/// rater's current label (a column per rater), and the final label with where it came from.
///
/// The final label is, in order: the newest adjudication (`adjudication`); else the raters'
/// label when at least two raters labelled the case and all agree (`agreement`); else the
/// reference label (`reference`); else empty (source `none`). Blinding applies to the viewer
/// as everywhere: what the viewer may not see is left empty.
public struct CasesCSVSummary: Sendable, Equatable, Codable {
  public var path: String
  public var cases: Int
  public var raters: [String]
}

extension CaseStore {
  /// The final label of a case from what `detail` shows, and its source (see the type's doc).
  public static func finalLabel(_ detail: CaseDetail) -> (label: String?, source: String) {
    if let a = detail.adjudication { return (a.label, "adjudication") }
    let labels = detail.current.compactMap(\.label)
    if labels.count >= 2, Set(labels).count == 1 { return (labels[0], "agreement") }
    if let r = detail.record.referenceLabel { return (r, "reference") }
    return (nil, "none")
  }

  /// The text of `cases.csv` for `viewer`.
  public func casesCSV(viewer: Viewer) throws(StoreError) -> (text: String, cases: Int, raters: [String]) {
    let ids = try read { db in try Int64.fetchAll(db, sql: #"SELECT id FROM "case" ORDER BY id"#) }
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
}
