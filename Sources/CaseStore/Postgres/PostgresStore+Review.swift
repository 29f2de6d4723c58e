import FileSafety
import Foundation
import Imaging

/// The review TUI on a shared workspace (`ReviewStore`): every read and write goes through the
/// functions of migration `pg-v2-review`, which apply the blinding rules and the role checks in
/// the server. This side only converts rows and refuses to act or read as anyone but the
/// connected role.
extension PostgresStore: ReviewStore {
  public var workspace: Workspace {
    localWorkspace
      ?? Workspace(directory: NSTemporaryDirectory() + "blastview-shared-\(connectedRater ?? "")")
  }

  public var embeddedStore: CaseStore? { nil }

  /// A case image's address in a shared workspace: its SHA-256 (the bytes are in the
  /// database; an import path would reveal the class of a blinded case).
  static func imageAddress(_ sha256: String) -> String { "sha256:" + sha256 }

  public func enrolReviewer(_ rater: String) throws(StoreError) -> RaterRole {
    let me = try actingRater(claimed: rater)
    guard role != nil else {
      throw .invalidInput(
        "\(me) is not a rater of the shared workspace at \(connection.displayTarget); a lead adds raters with "
          + "`blastview rater add \(me)`")
    }
    return try reviewRole(of: me)
  }

  public func reviewRole(of rater: String) throws(StoreError) -> RaterRole {
    _ = try actingRater(claimed: rater)
    let now = try connection.query("SELECT * FROM blastview.whoami()").first?["role"]
    return now == "adjudicator" ? .adjudicator : .rater
  }

  // MARK: Browsing

  public func casePage(_ request: CasePageRequest, viewer: Viewer) throws(StoreError) -> CasePage {
    let asRater = try reviewViewerName(viewer)
    let limit = max(1, min(request.limit, 1000))
    let queryAscending = request.backward ? !request.ascending : request.ascending
    var args = try filterArguments(request.filter, session: viewer.session)
    let c = request.cursor
    var key: Double? = nil
    if case .number(let v)? = c?.key { key = v }
    args += [
      .text(request.sort.rawValue), .bool(queryAscending), .bool(c != nil), .bool(c?.key == .null),
      key.map { PGValue.double($0) } ?? .null, c.map { PGValue.int($0.caseID) } ?? .null,
      .int(Int64(limit + 1)),
    ]
    var rows = try connection.query(
      asRater == nil
        ? "SELECT * FROM blastview.case_page(\(placeholders(args.count)))"
        : "SELECT * FROM blastview.case_page_as(\(placeholders(args.count + 1)))",
      (asRater.map { [PGValue.text($0)] } ?? []) + args
    ).map { caseRow($0) }
    let more = rows.count > limit
    if more { rows.removeLast() }
    if request.backward { rows.reverse() }
    let atStart = request.cursor == nil && !request.backward
    let next: CaseCursor? =
      request.backward ? (request.cursor == nil ? nil : rows.last?.cursor) : (more ? rows.last?.cursor : nil)
    let previous: CaseCursor? =
      request.backward ? (more ? rows.first?.cursor : nil) : (atStart ? nil : rows.first?.cursor)
    return CasePage(rows: rows, next: next, previous: previous)
  }

  public func caseCount(_ filter: CaseFilter, viewer: Viewer) throws(StoreError) -> Int {
    let asRater = try reviewViewerName(viewer)
    let args = try filterArguments(filter, session: viewer.session)
    return Int(
      try connection.query(
        asRater == nil
          ? "SELECT blastview.case_page_count(\(placeholders(args.count)))"
          : "SELECT blastview.case_page_count_as(\(placeholders(args.count + 1)))",
        (asRater.map { [PGValue.text($0)] } ?? []) + args
      ).first?[0].flatMap { Int64($0) } ?? 0)
  }

  private func placeholders(_ n: Int) -> String { (1...n).map { "$\($0)" }.joined(separator: ", ") }

  /// Whom a browser read is for: nil for the connected role itself; the rater's name when the
  /// service role reads as a rater would see it (`case_page_as`, as `annotate_as` writes; what
  /// `bench store --database` times). Anyone else naming another rater is refused.
  private func reviewViewerName(_ viewer: Viewer) throws(StoreError) -> String? {
    if let r = viewer.rater, r != connectedRater, isService { return r }
    try checkReviewViewer(viewer)
    return nil
  }

  /// The filter as the functions' first ten arguments (labels resolved to class names).
  private func filterArguments(_ f: CaseFilter, session: String?) throws(StoreError) -> [PGValue] {
    let predicted: String? = try f.predictedLabel.map { (l: String) throws(StoreError) in
      try canonicalLabel(l)
    }
    let mine: String? = try f.myLabel.map { (l: String) throws(StoreError) in try canonicalLabel(l) }
    let search = f.search?.trimmingCharacters(in: .whitespaces)
    return [
      .optional(session), .optional(predicted), .optional(mine), .bool(f.unreviewed), .bool(f.disagreement),
      .optional(f.split?.rawValue), .bool(f.adjudicated),
      f.confidenceBelow.map { PGValue.double($0) } ?? .null,
      .optional(search?.isEmpty == false ? search : nil),
      f.pMalignantAtLeast.map { PGValue.double($0) } ?? .null,
    ]
  }

  private func caseRow(_ r: PGRow) -> CaseRow {
    let id = r.int("id") ?? 0
    let sha = r["sha256"] ?? ""
    let key: CaseCursor.Key = r.double("k").map { .number($0) } ?? .null
    return CaseRow(
      id: id, path: r["path"] ?? CaseStore.opaqueName(id), imagePath: PostgresStore.imageAddress(sha),
      thumbnailPath: workspace.thumbnailsDirectory + "/" + sha + ".png", sha256: sha,
      width: Int(r.int("width") ?? 0), height: Int(r.int("height") ?? 0),
      split: Split(rawValue: r["split"] ?? "") ?? .train,
      addedAt: r.date("added_at") ?? Date(timeIntervalSince1970: 0), predictedLabel: r["pred_label"],
      confidence: r.double("pred_confidence"), modelVersion: r.int("pred_model"), myLabel: r["my_label"],
      myMask: r.bool("my_mask") ?? false, myLastEdit: r.date("my_time"), disagreement: r.bool("disagreement"),
      labelCount: r.int("n_labels").map { Int($0) }, blinded: r.bool("blinded") ?? false,
      modelHidden: r.bool("model_hidden") ?? false, cursor: CaseCursor(key: key, caseID: id),
      adjudicated: r.bool("adjudicated"))
  }

  /// Reads are as the connected role; a viewer naming anyone else is refused (a read "as"
  /// someone else would silently be a read as oneself).
  private func checkReviewViewer(_ viewer: Viewer) throws(StoreError) {
    if let r = viewer.rater { _ = try actingRater(claimed: r) }
  }

  // MARK: The case view

  public func caseDetail(id: Int64, viewer: Viewer) throws(StoreError) -> CaseDetail {
    try checkReviewViewer(viewer)
    // One snapshot: a label committed between the reads must not show half.
    return try connection.transaction { () throws(StoreError) -> CaseDetail in
      try connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
      let record = try caseRecord(id: id, viewer: viewer)
      let flags = try connection.query("SELECT * FROM blastview.case_flags($1)", [.int(id)]).first
      let current = try connection.query(
        "SELECT * FROM blastview.current_annotations($1, $2)", [.int(id), .optional(viewer.session)]
      ).map(PostgresStore.annotation)
      let prediction = try connection.query("SELECT * FROM blastview.case_prediction($1)", [.int(id)]).first
        .map { r in
          Prediction(
            caseID: id, modelVersion: r.int("model_version") ?? 0, label: r["label"] ?? "",
            confidence: r.double("confidence") ?? 0,
            probabilities: CaseStore.decodeJSON([Double].self, r["probabilities"]) ?? [],
            pMalignant: r.double("p_malignant"), maskID: r.int("mask_id"),
            detections: CaseStore.decodeJSON([StoredDetection].self, r["detections"]) ?? [],
            createdAt: r.date("created_at") ?? Date(timeIntervalSince1970: 0),
            colourDistance: r.double("colour_distance"), colourUnusual: r.bool("colour_unusual"))
        }
      let adjudications = try connection.query("SELECT * FROM blastview.adjudications($1)", [.int(id)]).map(
        PostgresStore.adjudication)
      let me = connectedRater
      return CaseDetail(
        record: record, prediction: prediction, current: current,
        mine: me.flatMap { m in current.first { $0.rater == m } },
        referenceMaskID: flags?.int("reference_mask"),
        adjudication: adjudications.last, adjudications: adjudications,
        blinded: flags?.bool("blinded") ?? false,
        modelHidden: flags?.bool("model_hidden") ?? false, imageProblem: nil)
    }
  }

  public func storedMask(id: Int64) throws(StoreError) -> Mask {
    guard let png = try maskPNG(id: id) else {
      throw .invalidInput(
        "mask \(id) is not one you may see in the shared workspace at \(connection.displayTarget)")
    }
    do {
      return try decodeMask(data: png, name: "mask \(id)")
    } catch {
      throw .corrupt(path: connection.displayTarget, detail: "stored mask \(id) does not decode: \(error)")
    }
  }

  /// `sha256:<hex>`: the bytes from the database, checked against the address.
  public func caseImage(at imagePath: String) throws(StoreError) -> RGBImage {
    guard imagePath.hasPrefix("sha256:") else {
      throw .invalidInput(
        "\(imagePath) is not an image of the shared workspace (its images are in the database)")
    }
    let sha = String(imagePath.dropFirst("sha256:".count))
    guard
      let bytes = try connection.query("SELECT blastview.image_bytes($1) AS bytes", [.text(sha)]).first?
        .bytes("bytes")
    else { throw .io(path: imagePath, reason: "no case of the shared workspace has this image") }
    guard Digest.sha256Hex(bytes) == sha else {
      throw .corrupt(
        path: connection.displayTarget, detail: "the stored image \(sha) does not match its SHA-256")
    }
    do { return try decodeImage(data: bytes, name: "case image \(sha.prefix(12))") } catch {
      throw .io(path: imagePath, reason: error.description)
    }
  }

  /// The address is the SHA-256, and `caseImage` checks the bytes against it.
  public func verifiedCaseImage(at imagePath: String, sha256: String) throws(StoreError) -> RGBImage {
    guard imagePath == PostgresStore.imageAddress(sha256) else {
      throw .invalidInput("\(imagePath) is not the image with SHA-256 \(sha256)")
    }
    return try caseImage(at: imagePath)
  }

  // MARK: Writing

  /// As `CaseStore.saveMaskEdit`: inside one transaction, under the lock `annotate` takes, an
  /// edit made on an older version is merged pixel by pixel into the mask saved since.
  public func saveMaskEdit(
    case caseID: Int64, rater: String, mask: Mask, base: MaskEditBase, session: String?
  )
    throws(StoreError) -> MaskEditSave
  {
    _ = try actingRater(claimed: rater)
    if let b = base.mask, b.width != mask.width || b.height != mask.height {
      throw .maskSizeMismatch(
        caseID: caseID, expected: "\(mask.width)×\(mask.height)", got: "\(b.width)×\(b.height)")
    }
    return try connection.transaction { () throws(StoreError) -> MaskEditSave in
      let state = try connection.query(
        "SELECT * FROM blastview.mask_edit_state($1, $2, $3)",
        [.int(caseID), .optional(session), .optional(base.annotationID)]
      ).first
      var toSave = mask
      var merged = false
      if state?.int("current_id") != base.annotationID {
        // Saved meanwhile. Only a mask saved since matters: a label change is carried forward.
        let theirsID = state?.int("current_mask")
        if theirsID != state?.int("base_mask") {
          let theirs =
            try theirsID.map { (m: Int64) throws(StoreError) in try self.storedMask(id: m) }
            ?? Mask(width: mask.width, height: mask.height)
          guard theirs.width == mask.width, theirs.height == mask.height else {
            throw StoreError.maskSizeMismatch(
              caseID: caseID, expected: "\(theirs.width)×\(theirs.height)",
              got: "\(mask.width)×\(mask.height)")
          }
          let b = base.mask?.values ?? [UInt8](repeating: 0, count: mask.values.count)
          for i in toSave.values.indices where mask.values[i] == b[i] { toSave.values[i] = theirs.values[i] }
          merged = true
        }
      }
      let blob = MaskBlob(mask: toSave)
      let rows = try connection.query(
        "SELECT * FROM blastview.annotate($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [
          .int(caseID), .null, .bytes(blob.png), .text(blob.sha256), .int(Int64(blob.width)),
          .int(Int64(blob.height)), .optional(session), .int(0), .null,
        ])
      guard let row = rows.first else { throw .database("annotate returned nothing") }
      return MaskEditSave(annotation: PostgresStore.annotation(row), mask: toSave, merged: merged)
    }
  }

  @discardableResult
  public func adjudicate(
    case caseID: Int64, adjudicator: String, label: String, mask: Mask?, reason: String, session: String?
  ) throws(StoreError) -> Adjudication {
    _ = try actingRater(claimed: adjudicator)
    let canonical = try canonicalLabel(label)
    let blob = mask.map { MaskBlob(mask: $0) }
    let row = try connection.transaction { () throws(StoreError) -> PGRow? in
      try connection.query(
        "SELECT * FROM blastview.adjudicate($1, $2, $3, $4, $5, $6, $7, $8)",
        [
          .int(caseID), .text(canonical), blob.map { PGValue.bytes($0.png) } ?? .null,
          .optional(blob?.sha256),
          blob.map { PGValue.int(Int64($0.width)) } ?? .null,
          blob.map { PGValue.int(Int64($0.height)) } ?? .null,
          .text(reason), .optional(session),
        ]
      ).first
    }
    guard let row else { throw .database("adjudicate returned nothing") }
    return PostgresStore.adjudication(row)
  }

  // MARK: Workspace state

  public func promotedModelVersion() throws(StoreError) -> Int64? {
    try connection.query("SELECT blastview.promoted_model()").first?[0].flatMap { Int64($0) }
  }

  public func setting(_ key: String) throws(StoreError) -> String? {
    try connection.query("SELECT * FROM blastview.settings()").first { $0["key"] == key }?["value"]
  }

  public func externalChangeVersion() throws(StoreError) -> Int {
    Int(try connection.query("SELECT blastview.change_version()").first?[0].flatMap { Int64($0) } ?? 0)
  }

  /// The candidates come from the server with P(malignant) (`triage_candidates_screened`, none
  /// while the model is hidden from the viewer), ranked by the same code as on SQLite.
  public func triageQueue(
    viewer: Viewer, confidenceBelow: Double, limit: Int, session: String?,
    possiblyMalignantFrom: Double? = nil
  ) throws(StoreError) -> [TriageItem] {
    try checkReviewViewer(viewer)
    let rows = try connection.query(
      "SELECT * FROM blastview.triage_candidates_screened($1, $2)",
      [.optional(session), .double(confidenceBelow)])
    let hierarchical = labelSchema.isHierarchical
    let candidates = rows.map { r in
      TriageCandidate(
        caseID: r.int("case_id") ?? 0,
        labels: (r["labels"]).flatMap {
          try? JSONDecoder().decode([String: String].self, from: Data($0.utf8))
        }
          ?? [:],
        predictedLabel: r["pred_label"], confidence: r.double("pred_confidence"),
        pMalignant: hierarchical ? r.double("p_malignant") : nil)
    }
    return CaseStore.triageItems(
      candidates, schema: labelSchema, confidenceBelow: confidenceBelow, limit: limit,
      possiblyMalignantFrom: possiblyMalignantFrom)
  }

  // MARK: Models

  public func promotedModelMetadata(_ key: String) throws(StoreError) -> ModelMetadataEntry? {
    guard let version = try promotedModelVersion() else { return nil }
    let text = try connection.query("SELECT blastview.model_metadata($1)", [.int(version)]).first?[0]
    return ModelMetadataEntry(version: version, value: CheckpointHeader.entry(key, inMetadataJSON: text))
  }

  /// The weights come from the database (refused while a session hides the model from the
  /// rater), checked against their SHA-256 and kept in this user's private cache folder under
  /// their content address, so each version's bytes are fetched once.
  public func modelFileForReading(version: Int64) throws(StoreError) -> (path: String, sha256: String)? {
    // Asked of the server every time, even with a cached copy: the app uses the weights only
    // while the server would give them (not while a session hides the model from the rater).
    guard
      let sha = try connection.query("SELECT f.sha256 FROM blastview.model_file($1) f", [.int(version)])
        .first?[
          "sha256"]
    else { return nil }
    let path: String
    do {
      let mine = try SafeFile.privateDirectory(in: workspace.cacheDirectory)
      try SafeFile.makeDirectories(mine + "/models", mode: 0o700)
      path = mine + "/models/" + sha + ".safetensors"
    } catch {
      throw CaseStore.storeError(error)
    }
    if CaseStore.fileMatches(path: path, sha256: sha) { return (path, sha) }
    guard
      let bytes = try connection.query("SELECT f.bytes FROM blastview.model_file($1) f", [.int(version)])
        .first?
        .bytes("bytes")
    else { return nil }
    guard Digest.sha256Hex(bytes) == sha else {
      throw .corrupt(
        path: connection.displayTarget,
        detail: "the stored model v\(version) does not match its SHA-256 \(sha)")
    }
    do { try SafeFile.write(bytes, to: path, mode: 0o600) } catch {
      throw CaseStore.storeError(error)
    }
    return (path, sha)
  }

  static func adjudication(_ r: PGRow) -> Adjudication {
    Adjudication(
      id: r.int("id") ?? 0, caseID: r.int("case_id") ?? 0, label: r["label"] ?? "", maskID: r.int("mask_id"),
      adjudicator: r["adjudicator"] ?? "", session: r["session"], reason: r["reason"] ?? "",
      supersedes: r.int("supersedes"), createdAt: r.date("created_at") ?? Date(timeIntervalSince1970: 0))
  }
}
