import Foundation

extension PostgresStore: ExportSource {
  /// `export` on a shared workspace, read through the server's functions as the connected
  /// role (`PGExportV4`, `PGAppV6`), so a rater's export holds exactly what `blastview` would
  /// show him. Every format of an embedded workspace: `csv` (`annotations.csv`), `masks`
  /// (the stored PNGs, SHA-256 checked; `--final`, `--include-reference`), `coco` and `json`,
  /// built by the same code as the embedded export (`ExportSource`) where it combines reads.
  /// Image paths are the stored import-relative ones (a shared workspace has no image root).
  public func export(_ options: ExportOptions) throws(StoreError) -> ExportSummary {
    try checkViewer(options.viewer)
    let out = Workspace.absolute(options.outDirectory)
    do {
      try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    } catch {
      throw Workspace.classifyWriteFailure(path: out, errno: (error as NSError).code)
    }
    var summary = ExportSummary()
    switch options.format {
    case .csv:
      let rows = try exportRows(options)
      let path = out + "/annotations.csv"
      try CaseStore.writeAtomically(Array(CaseStore.annotationsCSV(rows, root: nil).utf8), to: path)
      summary.files = [path]
      summary.annotations = rows.count
    case .masks, .coco:
      summary = try exportMasksOrCOCO(options, out: out)
    case .json:
      let (bytes, count) = try fullDump(options)
      let path = out + "/blastview-export.json"
      try CaseStore.writeAtomically(ExportText.escapeUnsafeScalars(bytes), to: path)
      summary.files = [path]
      summary.annotations = count
    }
    return summary
  }

  /// The annotations an export covers, oldest first, as the server blinds them.
  private func exportRows(_ options: ExportOptions) throws(StoreError) -> [CaseStore.ExportRow] {
    try connection.query(
      "SELECT * FROM blastview.export_annotations($1, $2)",
      [.optional(options.session), .bool(options.currentOnly)]
    ).map { r in
      CaseStore.ExportRow(
        caseID: r.int("case_id") ?? 0, path: r["path"] ?? "", relative: false, sha256: r["sha256"] ?? "",
        annotation: PostgresStore.annotation(r), pathHidden: r.bool("path_hidden") ?? true)
    }
  }

  // MARK: ExportSource

  public func caseIDs(session: String?) throws(StoreError) -> [Int64] {
    try connection.query("SELECT * FROM blastview.export_case_ids($1) AS id", [.optional(session)])
      .compactMap { $0.int("id") }
  }

  public func currentMasks(session: String?, viewer: Viewer) throws(StoreError) -> [RaterMask] {
    try checkViewer(viewer)
    return try connection.query("SELECT * FROM blastview.export_masks($1)", [.optional(session)]).map {
      RaterMask(caseID: $0.int("case_id") ?? 0, rater: $0["rater"] ?? "", maskID: $0.int("mask_id") ?? 0)
    }
  }

  public func currentLabels(viewer: Viewer) throws(StoreError) -> [RaterLabel] {
    try checkViewer(viewer)
    return try connection.query("SELECT * FROM blastview.export_annotations(NULL, true)").compactMap { r in
      guard let label = r["label"] else { return nil }
      return RaterLabel(caseID: r.int("case_id") ?? 0, rater: r["rater"] ?? "", label: label)
    }
  }

  public func exportMaskPNG(id: Int64) throws(StoreError) -> [UInt8] {
    guard let png = try maskPNG(id: id) else { throw .invalidInput("mask \(id) is not yours to export") }
    return png
  }

  /// A shared workspace keeps the import-relative path of each image, and no image root.
  public func exportImageRoot() throws(StoreError) -> String? { nil }

  // MARK: The JSON dump

  /// `blastview-export.json` with the embedded dump's fields, each read as the viewer may see it.
  private func fullDump(_ options: ExportOptions) throws(StoreError) -> ([UInt8], Int) {
    let rows = try exportRows(options)
    var maskIDs = Set(rows.compactMap(\.annotation.maskID))
    var cases: [CaseRecord] = []
    var referenceMasks: [String: Int64] = [:]
    var adjudications: [Adjudication] = []
    for id in try caseIDs(session: nil) {
      cases.append(try caseRecord(id: id, viewer: options.viewer))
      if let m = try connection.query("SELECT * FROM blastview.case_flags($1)", [.int(id)]).first?.int(
        "reference_mask")
      {
        referenceMasks[String(id)] = m
        maskIDs.insert(m)
      }
      adjudications += try connection.query("SELECT * FROM blastview.adjudications($1)", [.int(id)]).map(
        PostgresStore.adjudication)
    }
    adjudications.sort { $0.id < $1.id }
    for a in adjudications { if let m = a.maskID { maskIDs.insert(m) } }
    let predictions = try connection.query("SELECT * FROM blastview.export_predictions()").map { r in
      Prediction(
        caseID: r.int("case_id") ?? 0, modelVersion: r.int("model_version") ?? 0, label: r["label"] ?? "",
        confidence: r.double("confidence") ?? 0,
        probabilities: CaseStore.decodeJSON([Double].self, r["probabilities"]) ?? [],
        pMalignant: r.double("p_malignant"), maskID: r.int("mask_id"),
        detections: CaseStore.decodeJSON([StoredDetection].self, r["detections"]) ?? [],
        createdAt: r.date("created_at") ?? Date(timeIntervalSince1970: 0),
        colourDistance: r.double("colour_distance"), colourUnusual: r.bool("colour_unusual"))
    }
    for p in predictions { if let m = p.maskID { maskIDs.insert(m) } }
    var sessionCases: [String: [Int64]] = [:]
    for r in try connection.query("SELECT * FROM blastview.export_session_cases()") {
      sessionCases[r["session"] ?? "", default: []].append(r.int("case_id") ?? 0)
    }
    let raters = try connection.query("SELECT * FROM blastview.export_raters()").map { r in
      ExportDump.RaterEntry(
        id: r.int("id") ?? 0, name: r["name"] ?? "", role: r["role"] ?? "none",
        createdAt: r.date("created_at") ?? Date(timeIntervalSince1970: 0))
    }
    var masks: [String: String] = [:]
    for id in maskIDs.sorted() { masks[String(id)] = Data(try exportMaskPNG(id: id)).base64EncodedString() }
    let dump = ExportDump(
      exportedAt: CaseStore.timestamp(Date()), viewer: options.viewer.rater ?? connectedRater,
      labelSchema: labelSchema, imageRoot: nil, cases: cases, referenceMasks: referenceMasks, raters: raters,
      sessions: try sessions(), sessionCases: sessionCases, annotations: rows.map(\.annotation),
      adjudications: adjudications, models: try registeredModels(), predictions: predictions,
      trainingJobs: try trainingJobs(), masks: masks)
    return (try dump.encoded(), rows.count)
  }

  /// The model registry (the weights stay in the database: `file` is their content address).
  public func registeredModels() throws(StoreError) -> [ModelVersion] {
    try connection.query("SELECT * FROM blastview.export_models()").map { r in
      let sha = r["sha256"] ?? ""
      return ModelVersion(
        version: r.int("version") ?? 0, parent: r.int("parent"), file: "sha256:" + sha, sha256: sha,
        tasks: CaseStore.decodeJSON([String].self, r["tasks"]) ?? [],
        trainedTasks: CaseStore.decodeJSON([String].self, r["trained_tasks"]) ?? [],
        frozenTasks: CaseStore.decodeJSON([String].self, r["frozen_tasks"]) ?? [],
        frozenVerified: r.bool("frozen_verified"),
        metrics: CaseStore.decodeJSON(JSONValue.self, r["metrics"]) ?? .object([:]),
        config: CaseStore.decodeJSON(JSONValue.self, r["config"]) ?? .object([:]),
        trainingJobID: r.int("training_job_id"),
        trainedThroughAnnotation: r.int("trained_through_annotation"),
        notes: r["notes"], createdAt: r.date("created_at") ?? Date(timeIntervalSince1970: 0),
        isPromoted: r.bool("promoted") ?? false, promotedAt: r.date("promoted_at"))
    }
  }

  private func trainingJobs() throws(StoreError) -> [TrainingJob] {
    try connection.query("SELECT * FROM blastview.export_training_jobs()").map { r in
      TrainingJob(
        id: r.int("id") ?? 0, status: JobStatus(rawValue: r["status"] ?? "") ?? .failed,
        tasks: CaseStore.decodeJSON([String].self, r["tasks"]) ?? [],
        trigger: CaseStore.decodeJSON(JSONValue.self, r["trigger"]) ?? .object([:]),
        parentModel: r.int("parent_model"), resultModel: r.int("result_model"),
        progress: r.double("progress") ?? 0, epoch: nil, totalEpochs: nil, batch: nil, totalBatches: nil,
        loss: nil, etaSeconds: nil, message: r["message"], pid: nil,
        createdAt: r.date("created_at") ?? Date(timeIntervalSince1970: 0), startedAt: r.date("started_at"),
        heartbeatAt: r.date("heartbeat_at"), finishedAt: r.date("finished_at"), error: r["error"])
    }
  }
}
