import FileSafety
import Foundation
import GRDB
import Imaging

public enum ExportFormat: String, Sendable, CaseIterable, Codable {
  /// `annotations.csv`: one row per annotation.
  case csv
  /// `blastview-export.json`: the whole workspace (masks as base64 PNG).
  case json
  /// `masks/<case>_<rater>.png`: each rater's current mask.
  case masks
  /// `coco.json`: COCO instances, one per connected nucleus component of each current mask.
  case coco
}

public struct ExportOptions: Sendable {
  public var format: ExportFormat
  public var outDirectory: String
  /// Only this session's annotations.
  public var session: String?
  /// Only each rater's current annotation (per session when `session` is given).
  public var currentOnly: Bool
  /// Whose export this is: blinding applies to exports too.
  public var viewer: Viewer
  /// masks/coco: each case's final mask (`FinalMask`) instead of every rater's.
  public var final: Bool
  /// masks/coco: the masks that came with the import as well.
  public var includeReference: Bool

  public init(
    format: ExportFormat, outDirectory: String, session: String? = nil, currentOnly: Bool = false,
    viewer: Viewer, final: Bool = false, includeReference: Bool = false
  ) {
    self.format = format
    self.outDirectory = outDirectory
    self.session = session
    self.currentOnly = currentOnly
    self.viewer = viewer
    self.final = final
    self.includeReference = includeReference
  }
}

/// `blastview-export.json`: the whole workspace as the viewer may see it (both backends).
struct ExportDump: Encodable {
  /// A rater and their role (`lead` exists only in a shared workspace).
  struct RaterEntry: Encodable {
    var id: Int64
    var name: String
    var role: String
    var createdAt: Date
  }
  var format = "blastview-export-1"
  var exportedAt: String
  var viewer: String?
  var labelSchema: LabelSchema
  var imageRoot: String?
  var cases: [CaseRecord]
  var referenceMasks: [String: Int64]
  var raters: [RaterEntry]
  var sessions: [SessionInfo]
  var sessionCases: [String: [Int64]]
  var annotations: [Annotation]
  var adjudications: [Adjudication]
  var models: [ModelVersion]
  var predictions: [Prediction]
  var trainingJobs: [TrainingJob]
  var masks: [String: String]

  func encoded() throws(StoreError) -> [UInt8] {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .prettyPrinted]
    enc.dateEncodingStrategy = .custom { date, encoder in
      var c = encoder.singleValueContainer()
      try c.encode(CaseStore.timestamp(date))
    }
    do {
      return Array(try enc.encode(self))
    } catch {
      throw .invalidInput("could not encode the export: \(error)")
    }
  }
}

public struct ExportSummary: Sendable, Equatable, Codable {
  public var files: [String] = []
  public var annotations = 0
  public var masks = 0
  public var instances = 0
  /// With `--final`: how many cases took their final mask from each source, and how many had none.
  public var finalSources: [String: Int]? = nil
}

extension CaseStore {
  /// Writes an export into `outDirectory` (created if needed). Every file is written to a
  /// temporary name and renamed, so a reader never sees half a file.
  public func export(_ options: ExportOptions) throws(StoreError) -> ExportSummary {
    let out = Workspace.absolute(options.outDirectory)
    do {
      try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    } catch {
      throw Workspace.classifyWriteFailure(path: out, errno: (error as NSError).code)
    }
    var summary = ExportSummary()
    let root = try imageRoot()
    switch options.format {
    case .csv:
      let rows = try exportAnnotationRows(options)
      let text = CaseStore.annotationsCSV(rows, root: root)
      let path = out + "/annotations.csv"
      try CaseStore.writeAtomically(Array(text.utf8), to: path)
      summary.files = [path]
      summary.annotations = rows.count
    case .masks, .coco:
      summary = try exportMasksOrCOCO(options, out: out)
    case .json:
      let (json, count) = try fullDump(options, root: root)
      let path = out + "/blastview-export.json"
      try CaseStore.writeAtomically(ExportText.escapeUnsafeScalars(json), to: path)
      summary.files = [path]
      summary.annotations = count
    }
    return summary
  }

  /// The text of `annotations.csv` (both backends write it with this).
  static func annotationsCSV(_ rows: [ExportRow], root: String?) -> String {
    var text =
      "case_id,image_path,sha256,rater,label,session,created_at,annotation_id,supersedes,changed,has_mask,note\n"
    for r in rows {
      let fields = [
        String(r.caseID),
        r.pathHidden
          ? CaseStore.opaqueName(r.caseID)
          : CaseStore.resolvePath(r.path, relative: r.relative, root: root), r.sha256,
        r.annotation.rater,
        r.annotation.label ?? "", r.annotation.session ?? "", CaseStore.timestamp(r.annotation.createdAt),
        String(r.annotation.id), r.annotation.supersedes.map(String.init) ?? "",
        changedText(r.annotation.changed),
        r.annotation.maskID == nil ? "0" : "1", r.annotation.note ?? "",
      ]
      text += fields.map(ExportText.csvCell).joined(separator: ",") + "\n"
    }
    return text
  }

  /// Writes each mask as `masks/<case>_<rater>.png` under `out` (both backends); returns the
  /// files written.
  static func writeMasks(
    _ masks: [RaterMask], into out: String, png: (Int64) throws(StoreError) -> [UInt8]
  ) throws(StoreError) -> [String] {
    let dir = out + "/masks"
    // Not through a link planted at `masks` (into someone else's folder).
    var st = stat()
    if lstat(dir, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK {
      throw .io(path: dir, reason: "is a symbolic link; refusing to write masks through it")
    }
    do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
      throw Workspace.classifyWriteFailure(path: dir, errno: (error as NSError).code)
    }
    // Names are unique by construction (`ExportText.fileNamePart` is reversible); a
    // second mask for one file name (a case-insensitive file system folding two raters'
    // names together) is refused rather than silently overwriting the first.
    var written: [String: String] = [:]
    var files: [String] = []
    for m in masks {
      let path = dir + "/\(m.caseID)_\(ExportText.fileNamePart(m.rater)).png"
      if let other = written[path.lowercased()] {
        throw .invalidInput(
          "masks of raters \"\(other)\" and \"\(m.rater)\" of case \(m.caseID) would share the file \(path) on a case-insensitive file system; export to a case-sensitive one"
        )
      }
      written[path.lowercased()] = m.rater
      try CaseStore.writeAtomically(try png(m.maskID), to: path)
      files.append(path)
    }
    return files
  }

  static func changedText(_ c: AnnotationFields) -> String {
    [c.contains(.label) ? "label" : nil, c.contains(.mask) ? "mask" : nil].compactMap { $0 }.joined(
      separator: "+")
  }

  struct ExportRow {
    var caseID: Int64
    var path: String
    var relative: Bool
    var sha256: String
    var annotation: Annotation
    /// The viewer is blinded for the case: show `CaseStore.opaqueName`, not the path.
    var pathHidden = false
  }

  /// The annotations an export covers, oldest first, blinding applied.
  func exportAnnotationRows(_ options: ExportOptions) throws(StoreError) -> [ExportRow] {
    try read { db in
      let vid = try CaseStore.viewerRaterID(db, options.viewer)
      let sid = try options.session.map { try CaseStore.sessionID(db, $0) }
      var from = "annotation a"
      var conditions: [String] = []
      if options.currentOnly {
        from =
          sid == nil
          ? "current_annotation cur JOIN annotation a ON a.id = cur.annotation_id"
          : "session_current cur JOIN annotation a ON a.id = cur.annotation_id"
        if let sid { conditions.append("cur.session_id = \(sid)") }
      } else if let sid {
        conditions.append("a.session_id = \(sid)")
      }
      if let vid {
        conditions.append(
          "(a.rater_id = \(vid) OR NOT \(CaseStore.hiddenAnnotationsSQL(viewer: String(vid), caseExpr: "a.case_id")))"
        )
      }
      // The viewer's own annotations of a case they are still blinded for are exported, but
      // not the case's path, which carries the class (issue 15, item 10).
      let pathHidden =
        vid.map { CaseStore.hiddenAnnotationsSQL(viewer: String($0), caseExpr: "a.case_id") } ?? "0"
      let sql = """
        SELECT \(CaseStore.annotationColumns), c.path, c.path_is_relative, c.sha256, \(pathHidden) AS path_hidden
        FROM \(from) \(CaseStore.annotationJoins) JOIN "case" c ON c.id = a.case_id
        WHERE \(conditions.isEmpty ? "1" : conditions.joined(separator: " AND ")) ORDER BY a.id
        """
      return try Row.fetchAll(db, sql: sql).map { r in
        ExportRow(
          caseID: r["case_id"], path: r["path"], relative: r["path_is_relative"], sha256: r["sha256"],
          annotation: CaseStore.annotation(r), pathHidden: r["path_hidden"])
      }
    }
  }

  /// A case's image as COCO names it: relative to the image root (`../` when the image lies
  /// outside it), the stored path when there is no root to be relative to, and the opaque
  /// name while the viewer is blinded for the case (the path carries the class).
  static func cocoFileName(_ c: CaseRecord, root: String?) -> String {
    if c.pathHidden { return c.path }
    if c.pathIsRelative { return c.path }
    guard let root else { return c.imagePath }
    let from = Workspace.absolute(root).split(separator: "/", omittingEmptySubsequences: true)
    let to = c.imagePath.split(separator: "/", omittingEmptySubsequences: true)
    var common = 0
    while common < from.count, common < to.count - 1, from[common] == to[common] { common += 1 }
    return (Array(repeating: "..", count: from.count - common) + to[common...].map(String.init))
      .joined(separator: "/")
  }

  /// Cases per final-mask source, and `none` for the cases without one.
  static func sourceCounts(_ found: [FinalMask], _ missing: [MissingFinalMask]) -> [String: Int] {
    var counts: [String: Int] = [:]
    for s in FinalMask.Source.allCases { counts[s.rawValue] = 0 }
    for f in found { counts[f.source.rawValue, default: 0] += 1 }
    counts["none"] = missing.count
    return counts
  }

  /// Creates an output folder (and its parents), refusing one that is a symbolic link: masks
  /// are never written through a link planted in a shared output folder.
  static func exportFolder(_ dir: String) throws(StoreError) -> String {
    var st = stat()
    if lstat(dir, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK {
      throw .io(path: dir, reason: "is a symbolic link; refusing to write masks through it")
    }
    do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
      throw Workspace.classifyWriteFailure(path: dir, errno: (error as NSError).code)
    }
    return dir
  }

  private func fullDump(_ options: ExportOptions, root: String?) throws(StoreError) -> ([UInt8], Int) {
    let rows = try exportAnnotationRows(options)
    var maskIDs = Set(rows.compactMap(\.annotation.maskID))
    var cases: [CaseRecord] = []
    var after: Int64 = 0
    while true {
      let page = try self.cases(afterID: after, limit: 10_000, viewer: options.viewer)
      cases += page
      guard let last = page.last else { break }
      after = last.id
    }
    let vid = try read { db in try CaseStore.viewerRaterID(db, options.viewer) }
    let me = vid.map(String.init) ?? "NULL"
    /// SQL true when the case is visible to the viewer.
    func visible(_ hidden: String) -> String { vid == nil ? "1" : "NOT \(hidden)" }
    let extra = try read { db in
      let refMasks = try Row.fetchAll(
        db,
        sql: "SELECT r.case_id, r.mask_id FROM reference_mask r WHERE "
          + visible(CaseStore.hiddenAnnotationsSQL(viewer: me, caseExpr: "r.case_id")))
      let adj = try Row.fetchAll(
        db,
        sql: """
          SELECT j.*, r.name AS adjudicator, s.name AS session FROM adjudication j
          JOIN rater r ON r.id = j.adjudicator_id LEFT JOIN session s ON s.id = j.session_id
          WHERE \(visible(CaseStore.hiddenAnnotationsSQL(viewer: me, caseExpr: "j.case_id")))
          ORDER BY j.id
          """)
      let preds = try Row.fetchAll(
        db,
        sql: """
          SELECT case_id, model_version FROM prediction p
          WHERE \(visible(CaseStore.hiddenModelSQL(viewer: me, caseExpr: "p.case_id")))
          ORDER BY model_version, case_id
          """)
      let sessionCases = try Row.fetchAll(
        db,
        sql:
          "SELECT s.name, sc.case_id FROM session_case sc JOIN session s ON s.id = sc.session_id ORDER BY s.id, sc.position"
      )
      return (refMasks, adj, preds, sessionCases)
    }
    var refMasks: [String: Int64] = [:]
    for r in extra.0 {
      refMasks[String(r["case_id"] as Int64)] = r["mask_id"]
      maskIDs.insert(r["mask_id"])
    }
    let adjudications = extra.1.map { r in
      Adjudication(
        id: r["id"], caseID: r["case_id"], label: r["label"], maskID: r["mask_id"],
        adjudicator: r["adjudicator"],
        session: r["session"], reason: r["reason"], supersedes: r["supersedes"],
        createdAt: CaseStore.date(r["created_at"]) ?? Date(timeIntervalSince1970: 0))
    }
    for a in adjudications { if let m = a.maskID { maskIDs.insert(m) } }
    var predictions: [Prediction] = []
    for r in extra.2 {
      if let p = try read({ db in
        try CaseStore.prediction(db, caseID: r["case_id"], model: r["model_version"])
      }) {
        predictions.append(p)
        if let m = p.maskID { maskIDs.insert(m) }
      }
    }
    var sessionCases: [String: [Int64]] = [:]
    for r in extra.3 { sessionCases[r["name"] as String, default: []].append(r["case_id"]) }
    var masks: [String: String] = [:]
    for id in maskIDs.sorted() { masks[String(id)] = Data(try maskPNG(id: id)).base64EncodedString() }
    let dump = ExportDump(
      exportedAt: CaseStore.timestamp(Date()), viewer: options.viewer.rater, labelSchema: labelSchema,
      imageRoot: root,
      cases: cases, referenceMasks: refMasks,
      raters: try raters().map {
        ExportDump.RaterEntry(id: $0.id, name: $0.name, role: $0.role.rawValue, createdAt: $0.createdAt)
      }, sessions: try sessions(),
      sessionCases: sessionCases,
      annotations: rows.map(\.annotation), adjudications: adjudications, models: try models(),
      predictions: predictions,
      trainingJobs: try trainingJobs(limit: 1_000_000), masks: masks)
    return (try dump.encoded(), rows.count)
  }

  /// Writes `bytes` to a temporary file beside `path`, syncs it and renames it into place,
  /// through `SafeFile` (random exclusive temporary name; a `path` that is a symbolic link is
  /// refused, so a link planted in a shared output folder cannot redirect the write).
  static func writeAtomically(_ bytes: [UInt8], to path: String) throws(StoreError) {
    do { try SafeFile.write(bytes, to: path) } catch { throw storeError(error) }
  }

  /// A `SafeFileError` as the store reports it: read-only and disk-full kept apart.
  static func storeError(_ e: SafeFileError) -> StoreError {
    if let code = e.errno { return Workspace.classifyWriteFailure(path: e.path, errno: Int(code)) }
    return .io(path: e.path, reason: e.why)
  }

  // MARK: Backup

  /// Copies the whole database to `destination` with SQLite's online backup API: a
  /// consistent snapshot even while raters keep writing. The copy is made under a temporary
  /// name, checked with `PRAGMA integrity_check`, then renamed into place; an existing file
  /// at `destination` is refused.
  public func backup(to destination: String) throws(StoreError) {
    let dest = Workspace.absolute(destination)
    do { try SafeFile.checkTarget(dest, replace: false) } catch {
      if error.reason == .exists {
        throw .invalidInput("\(dest) already exists; choose a new file name (a backup never overwrites)")
      }
      throw CaseStore.storeError(error)
    }
    // SQLite opens its files by name (and makes -journal files beside them): the copy is
    // made inside a fresh folder only this user can enter, where nobody can plant a link, and
    // then linked to `dest`, which fails on any name that appeared meanwhile.
    let (folder, base) = ((dest as NSString).deletingLastPathComponent, (dest as NSString).lastPathComponent)
    let privateFolder: String
    do { privateFolder = try SafeFile.createTemporaryDirectory(in: folder, base: base) } catch {
      throw CaseStore.storeError(error)
    }
    let tmp = privateFolder + "/" + base
    defer {
      for suffix in ["", "-wal", "-shm", "-journal"] { unlink(tmp + suffix) }
      rmdir(privateFolder)
    }
    do {
      let target = try DatabaseQueue(path: tmp)
      // Busy is the workspace's doing; a full disk, read-only place or I/O error is the
      // target's, and the message must name the file being written, not the workspace.
      do {
        try CaseStore.retrying(path: workspace.databasePath) { try pool.backup(to: target) }
      } catch {
        let e = StoreError.from(error, path: workspace.databasePath)
        throw e.isTargetFailure ? e.naming(dest) : e
      }
      let check = try target.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
      try target.close()
      guard check == ["ok"] else {
        // The copy is page for page: it fails because the workspace itself is damaged.
        throw StoreError.corrupt(
          path: workspace.databasePath,
          detail:
            "its backup copy fails integrity_check: \(DamageCheck.filtered(check.prefix(3).joined(separator: "; ")))"
        )
      }
      let fd = Glibc.open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
      if fd >= 0 {
        _ = fsync(fd)
        Glibc.close(fd)
      }
      do { try SafeFile.install(tmp, at: dest, replace: false) } catch {
        if error.reason == .exists {
          throw StoreError.invalidInput(
            "\(dest) appeared while the backup was being made; choose a new file name (a backup never overwrites)"
          )
        }
        throw CaseStore.storeError(error)
      }
      SafeFile.syncFolder(folder)
    } catch {
      throw StoreError.from(error, path: dest)
    }
  }

  // MARK: Labels from CSV

  /// Imports `case,rater,label` rows (labels made in other tools) in one transaction: every
  /// row is checked first, and any bad row (unknown case, label or rater name, wrong column
  /// count) is reported with its line number and nothing is imported. Returns the
  /// annotations created.
  public func importLabels(csvPath: String, session: String?) throws(StoreError) -> [Annotation] {
    let rows = try LabelRowsCSV.read(
      csvPath, schema: labelSchema,
      resolveCase: { (text: String) throws(StoreError) in try resolveCase(text) },
      raterProblem: { (rater: String) -> String? in
        do throws(StoreError) { try CaseStore.validateRaterName(rater) } catch { return error.description }
        return nil
      })
    let now = CaseStore.timestamp(Date())
    return try write { db in
      try rows.map { r in
        try CaseStore.appendAnnotation(
          db, caseID: r.caseID, rater: r.rater, label: r.label, mask: nil, encoded: nil, session: session,
          clear: [],
          changed: .label, note: "labels import", now: now)
      }
    }
  }

}
