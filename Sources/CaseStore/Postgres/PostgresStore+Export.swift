import Foundation

extension PostgresStore {
  /// `export` on a shared workspace, read through the server's functions as the connected
  /// role (`PGExportV4`), so a rater's export holds exactly what `blastview` would show him:
  /// `csv` (`annotations.csv`, the embedded format) and `masks` (`masks/<case>_<rater>.png`,
  /// the stored PNGs, SHA-256 checked). `json` and `coco` are refused, naming the formats
  /// that work (they need the workspace-wide reads that a shared workspace does not have yet).
  public func export(_ options: ExportOptions) throws(StoreError) -> ExportSummary {
    try checkViewer(options.viewer)
    guard options.format == .csv || options.format == .masks else {
      throw .invalidInput(
        "--format \(options.format.rawValue) is not available on a shared workspace yet; csv and masks are")
    }
    let out = Workspace.absolute(options.outDirectory)
    do {
      try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    } catch {
      throw Workspace.classifyWriteFailure(path: out, errno: (error as NSError).code)
    }
    var summary = ExportSummary()
    if options.format == .csv {
      let rows = try connection.query(
        "SELECT * FROM blastview.export_annotations($1, $2)",
        [.optional(options.session), .bool(options.currentOnly)]
      ).map { r in
        CaseStore.ExportRow(
          caseID: r.int("case_id") ?? 0, path: r["path"] ?? "", relative: false, sha256: r["sha256"] ?? "",
          annotation: PostgresStore.annotation(r), pathHidden: r.bool("path_hidden") ?? true)
      }
      let path = out + "/annotations.csv"
      try CaseStore.writeAtomically(Array(CaseStore.annotationsCSV(rows, root: nil).utf8), to: path)
      summary.files = [path]
      summary.annotations = rows.count
    } else {
      let masks = try connection.query(
        "SELECT * FROM blastview.export_masks($1)", [.optional(options.session)]
      )
      .map {
        RaterMask(caseID: $0.int("case_id") ?? 0, rater: $0["rater"] ?? "", maskID: $0.int("mask_id") ?? 0)
      }
      summary.files = try CaseStore.writeMasks(masks, into: out) {
        (id: Int64) throws(StoreError) -> [UInt8] in
        guard let png = try maskPNG(id: id) else { throw .invalidInput("mask \(id) is not yours to export") }
        return png
      }
      summary.masks = summary.files.count
    }
    return summary
  }
}
