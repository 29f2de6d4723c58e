import Dispatch
import FileSafety
import Foundation
import GRDB
import Imaging

/// What `blastview import` does, as options.
public struct ImportOptions: Sendable {
  /// Files and directories to import (directories are walked recursively).
  public var paths: [String]
  /// Take reference labels from folder names (the nearest matching ancestor folder, up to
  /// and including the directory that was named on the command line).
  public var labelsFromFolders: Bool
  /// A directory of masks, matched to images by file stem (`001.png` for `001.bmp`). Files
  /// under it are never imported as images.
  public var masksDirectory: String?
  /// A CSV with a header naming `path` (or `image`/`file`), and optionally `label` and
  /// `mask`; relative paths are relative to the CSV's directory. Its rows are imported too,
  /// and its labels and masks take precedence over folder names and `masksDirectory`.
  public var manifest: String?
  /// Store paths relative to this directory (recorded in the workspace on first use).
  public var imageRoot: String?
  /// Accept an `imageRoot` different from the recorded one (the images moved).
  public var relocateImageRoot: Bool
  /// A mask pixel is nucleus when its value is above this (wbc-seg: 255 nucleus, 128
  /// cytoplasm, so the default 128 keeps nuclei only). Stored masks are 0/255.
  public var maskThreshold: UInt8

  public init(
    paths: [String], labelsFromFolders: Bool = false, masksDirectory: String? = nil, manifest: String? = nil,
    imageRoot: String? = nil, relocateImageRoot: Bool = false, maskThreshold: UInt8 = 128
  ) {
    self.paths = paths
    self.labelsFromFolders = labelsFromFolders
    self.masksDirectory = masksDirectory
    self.manifest = manifest
    self.imageRoot = imageRoot
    self.relocateImageRoot = relocateImageRoot
    self.maskThreshold = maskThreshold
  }
}

/// A file that was skipped or only partly imported, and why.
public struct ImportIssue: Error, Sendable, Equatable, Codable {
  public var path: String
  public var reason: String
}

/// The end-of-import summary.
public struct ImportSummary: Sendable, Equatable, Codable {
  /// Image files found (after walking directories and reading the manifest).
  public var found = 0
  public var imported = 0
  /// Files whose bytes were already a case (in the workspace or earlier in this run).
  public var duplicates = 0
  /// Files skipped, with reasons (unreadable, not an image, corrupt, bad manifest row).
  public var skipped: [ImportIssue] = []
  /// Imported with a reference label.
  public var labelled = 0
  /// Imported with a reference mask.
  public var masks = 0
  /// Masks that could not be used (the image was still imported), with reasons.
  public var maskProblems: [ImportIssue] = []
  /// Directories that could not be read or were symlink loops, with reasons.
  public var directoryProblems: [ImportIssue] = []
  /// Files ignored because neither their name nor their first bytes say image.
  public var otherFiles = 0
  /// Files under the masks directory (not imported as images).
  public var maskFiles = 0
  public var seconds = 0.0
  /// Ids of the cases created, in import order.
  public var caseIDs: [Int64] = []
  /// Files that could not be imported at all because of their name or kind: a name that is
  /// not valid UTF-8 (it cannot be stored or shown as it is), or a path named on the command
  /// line that is missing or not a regular file (a FIFO, a device). Everything else is still
  /// imported; the command then fails, so such a file is never skipped silently.
  public var refused: [ImportIssue] = []
}

/// Progress while importing: `done` of `total` files processed.
public struct ImportProgress: Sendable {
  public var done: Int
  public var total: Int
  public var path: String
}

extension CaseStore {
  /// Imports images: walks directories (PNG, JPEG, BMP by magic bytes), reads each file
  /// once, hashes it (SHA-256), decodes it fully (a damaged file is reported, not
  /// imported), assigns the split from the hash, takes the reference label from the folder
  /// or manifest and the mask by file stem, and inserts in batched transactions. A file
  /// whose bytes are already a case counts as a duplicate. Bad files are reported and
  /// skipped; the import goes on. Symlink loops and unreadable directories are reported,
  /// never followed forever.
  public func importImages(_ options: ImportOptions, progress: (ImportProgress) -> Void = { _ in })
    throws(StoreError)
    -> ImportSummary
  {
    let start = Date()
    var summary = ImportSummary()
    let root = try resolveImageRoot(options)
    let seed = try setting("split_seed") ?? Split.defaultSeed

    // 1. Masks by stem.
    let (masksByStem, maskDirAbs) = try Self.indexMasks(options, summary: &summary)

    // 2. Candidate image files, with their folder-label search root.
    let candidates = try Self.importCandidates(options, maskDirectory: maskDirAbs, summary: &summary)

    // 3. Process in batches: read, hash and decode in parallel, insert in one transaction.
    let total = candidates.count
    var done = 0
    progress(ImportProgress(done: 0, total: total, path: ""))
    var seenHashes: Set<String> = []
    let batchSize = 128
    // Read, hash and decode the next batch while this one is inserted.
    let starts = Array(stride(from: 0, to: candidates.count, by: batchSize))
    func batchAt(_ k: Int) -> [Candidate] {
      Array(candidates[starts[k]..<min(starts[k] + batchSize, candidates.count)])
    }
    var pending = starts.isEmpty ? nil : InspectionJob(batchAt(0))
    for k in starts.indices {
      let batch = batchAt(k)
      let results = pending!.wait()
      pending = k + 1 < starts.count ? InspectionJob(batchAt(k + 1)) : nil
      var rows: [NewCase] = []
      for (candidate, result) in zip(batch, results) {
        switch result {
        case .notImage(let reason):
          if candidate.explicit || FileWalk.hasImageExtension(candidate.path) {
            summary.skipped.append(ImportIssue(path: candidate.path, reason: reason))
          } else {
            summary.otherFiles += 1
          }
        case .failed(let reason):
          summary.skipped.append(ImportIssue(path: candidate.path, reason: reason))
        case .image(let sha, let format, let width, let height):
          summary.found += 1
          guard seenHashes.insert(sha).inserted else {
            summary.duplicates += 1
            continue
          }
          guard
            let chosen = Self.referenceLabelAndMask(
              candidate, schema: labelSchema, options: options, masksByStem: masksByStem, width: width,
              height: height, summary: &summary)
          else { continue }
          let (stored, relative) = CaseStore.storedPath(candidate.path, root: root)
          rows.append(
            NewCase(
              path: stored, relative: relative, sha256: sha, format: format, width: width, height: height,
              referenceLabel: chosen.label, split: Split.of(sha256Hex: sha, seed: seed), mask: chosen.mask,
              maskSource: chosen.maskPath))
        }
      }
      let inserted = try insertCases(rows)
      for (row, id) in zip(rows, inserted) {
        if let id {
          summary.imported += 1
          summary.caseIDs.append(id)
          if row.referenceLabel != nil { summary.labelled += 1 }
          if row.mask != nil { summary.masks += 1 }
        } else {
          summary.duplicates += 1
        }
      }
      done += batch.count
      progress(ImportProgress(done: done, total: total, path: batch.last?.path ?? ""))
    }
    // Large imports change the data's shape: refresh the planner's statistics.
    if summary.imported >= 1000 { try? optimize() }
    summary.seconds = Date().timeIntervalSince(start)
    return summary
  }

  /// The masks directory's files by stem (the first of a stem wins; later ones are reported),
  /// and the directory's absolute path, so the image walk can leave its files out.
  static func indexMasks(
    _ options: ImportOptions, summary: inout ImportSummary
  ) throws(StoreError) -> (byStem: [String: String], directory: String?) {
    var masksByStem: [String: String] = [:]
    var maskDirAbs: String? = nil
    if let dir = options.masksDirectory {
      let abs = Workspace.absolute(dir)
      maskDirAbs = abs
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: abs, isDirectory: &isDir), isDir.boolValue else {
        throw .io(path: dir, reason: "the masks directory does not exist or is not a directory")
      }
      var walk = FileWalk()
      walk.walk(abs)
      summary.directoryProblems += walk.problems
      for f in walk.files.sorted() {
        let stem = FileWalk.stem(f)
        if let other = masksByStem[stem] {
          summary.maskProblems.append(
            ImportIssue(path: f, reason: "another mask has the same stem (\(other)); ignored"))
        } else {
          masksByStem[stem] = f
        }
      }
    }
    return (masksByStem, maskDirAbs)
  }

  /// The image files to inspect, each once: the manifest's, then each path argument (a file as
  /// given, a directory walked in sorted order); missing and non-regular files are refused.
  static func importCandidates(
    _ options: ImportOptions, maskDirectory maskDirAbs: String?, summary: inout ImportSummary
  ) throws(StoreError) -> [Candidate] {
    var candidates: [Candidate] = []
    var seenPaths: Set<String> = []
    func add(_ c: Candidate) {
      if seenPaths.insert(c.path).inserted { candidates.append(c) }
    }
    if let manifest = options.manifest {
      for c in try Self.readManifest(manifest, summary: &summary) { add(c) }
    }
    for p in options.paths {
      let abs = Workspace.absolute(p)
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: abs, isDirectory: &isDir) else {
        // An argument that was not valid UTF-8 reaches us with U+FFFD in place of the bad bytes.
        let reason =
          p.unicodeScalars.contains("\u{FFFD}")
          ? "no such file (its name is not valid UTF-8 as given; rename the file to import it)"
          : "no such file or directory"
        summary.refused.append(ImportIssue(path: p, reason: reason))
        continue
      }
      if !isDir.boolValue {
        var st = stat()
        if stat(abs, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
          let kind = (st.st_mode & S_IFMT) == S_IFIFO ? "a FIFO (named pipe)" : "not a regular file"
          summary.refused.append(ImportIssue(path: p, reason: "\(kind); only image files are imported"))
          continue
        }
        add(Candidate(path: abs, labelRoot: (abs as NSString).deletingLastPathComponent, explicit: true))
        continue
      }
      var walk = FileWalk()
      walk.walk(abs)
      summary.directoryProblems += walk.problems
      summary.refused += walk.refused
      for f in walk.files.sorted() {
        if let m = maskDirAbs, f.hasPrefix(m + "/") {
          summary.maskFiles += 1
          continue
        }
        add(Candidate(path: f, labelRoot: abs, explicit: false))
      }
    }
    return candidates
  }

  /// A new case as the importer hands it to `insertCases`: metadata already checked (a tool
  /// that builds a large workspace from known metadata, such as `bench store`, does the same).
  public struct NewCase: Sendable {
    var path: String
    var relative: Bool
    var sha256: String
    var format: String
    var width: Int
    var height: Int
    var referenceLabel: String?
    var split: Split
    var mask: MaskBlob?
    var maskSource: String?

    /// A case without a reference mask; `sha256` is lowercase hex, `path` absolute unless
    /// `relative` (then under the image root).
    public init(
      path: String, relative: Bool, sha256: String, format: String, width: Int, height: Int,
      referenceLabel: String?, split: Split
    ) {
      self.init(
        path: path, relative: relative, sha256: sha256, format: format, width: width, height: height,
        referenceLabel: referenceLabel, split: split, mask: nil, maskSource: nil)
    }

    init(
      path: String, relative: Bool, sha256: String, format: String, width: Int, height: Int,
      referenceLabel: String?, split: Split, mask: MaskBlob?, maskSource: String?
    ) {
      self.path = path
      self.relative = relative
      self.sha256 = sha256
      self.format = format
      self.width = width
      self.height = height
      self.referenceLabel = referenceLabel
      self.split = split
      self.mask = mask
      self.maskSource = maskSource
    }
  }

  /// Inserts cases in one transaction; returns each new id, or nil for a SHA-256 that was
  /// already a case (another process may have imported the same file meanwhile).
  public func insertCases(_ rows: [NewCase]) throws(StoreError) -> [Int64?] {
    guard !rows.isEmpty else { return [] }
    let now = CaseStore.timestamp(Date())
    return try write { db in
      var ids: [Int64?] = []
      for r in rows {
        try db.execute(
          sql: """
            INSERT INTO "case" (path, path_is_relative, sha256, format, width, height, reference_label, split, added_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING
            """,
          arguments: [
            r.path, r.relative, r.sha256, r.format, r.width, r.height, r.referenceLabel, r.split.rawValue,
            now,
          ])
        guard db.changesCount > 0 else {
          ids.append(nil)
          continue
        }
        let id = db.lastInsertedRowID
        if let m = r.mask {
          let maskID = try m.store(db)
          try db.execute(
            sql: "INSERT INTO reference_mask (case_id, mask_id, source) VALUES (?, ?, ?)",
            arguments: [id, maskID, r.maskSource])
        }
        ids.append(id)
      }
      return ids
    }
  }

  /// Adds one case from metadata alone (tests, benchmarks and tools that already know the
  /// image). Returns the new id, or the existing one for a known SHA-256.
  @discardableResult
  public func addCase(
    path: String, sha256: String, format: String = "png", width: Int, height: Int,
    referenceLabel: String? = nil,
    referenceMask: Mask? = nil
  ) throws(StoreError) -> Int64 {
    let label = try referenceLabel.map { (l: String) throws(StoreError) in try canonicalLabel(l) }
    let seed = try setting("split_seed") ?? Split.defaultSeed
    let root = try imageRoot()
    let (stored, relative) = CaseStore.storedPath(Workspace.absolute(path), root: root)
    let sha = sha256.lowercased()
    guard sha.count == 64, sha.allSatisfy(\.isHexDigit) else {
      throw .invalidInput("\(sha256) is not a SHA-256")
    }
    let row = NewCase(
      path: stored, relative: relative, sha256: sha, format: format, width: width, height: height,
      referenceLabel: label, split: Split.of(sha256Hex: sha, seed: seed),
      mask: referenceMask.map { MaskBlob(mask: $0) },
      maskSource: nil)
    if let id = try insertCases([row]).first ?? nil { return id }
    return try read { db in
      try Int64.fetchOne(db, sql: #"SELECT id FROM "case" WHERE sha256 = ?"#, arguments: [sha])!
    }
  }

  // MARK: Pieces

  private func resolveImageRoot(_ options: ImportOptions) throws(StoreError) -> String? {
    let stored = try imageRoot()
    guard let given = options.imageRoot else { return stored }
    let abs = Workspace.absolute(given)
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: abs, isDirectory: &isDir), isDir.boolValue else {
      throw .io(path: given, reason: "the image root is not a directory")
    }
    if let stored, stored != abs, !options.relocateImageRoot {
      throw .invalidInput(
        "this workspace's image root is \(stored); \(abs) differs. If the images moved there, "
          + "pass --relocate-image-root; otherwise leave --image-root out")
    }
    if stored != abs { try setSetting("image_root", abs) }
    return abs
  }

  /// The folder label of `path`: the nearest ancestor directory, up to and including
  /// `root`, whose name is a class name or alias of `schema`.
  static func folderLabel(_ path: String, root: String, schema: LabelSchema) -> String? {
    var dir = (path as NSString).deletingLastPathComponent
    while dir.count >= root.count && dir != "/" {
      if let c = schema.resolve((dir as NSString).lastPathComponent) { return c.name }
      if dir == root { break }
      dir = (dir as NSString).deletingLastPathComponent
    }
    return nil
  }

  /// The reference label and mask of one image, chosen alike by both backends: the manifest's
  /// label (the image is skipped, and reported, when it names no class of `schema`), else the
  /// folder's; the manifest's mask, else the masks directory's by file stem (a mask that cannot
  /// be used is reported and the image imported without it). Nil: skip the image.
  static func referenceLabelAndMask(
    _ c: Candidate, schema: LabelSchema, options: ImportOptions, masksByStem: [String: String], width: Int,
    height: Int, summary: inout ImportSummary
  ) -> (label: String?, mask: MaskBlob?, maskPath: String?)? {
    var label: String? = nil
    if let l = c.manifestLabel {
      guard let cls = schema.resolve(l) else {
        summary.skipped.append(
          ImportIssue(
            path: c.path,
            reason: "manifest label \"\(l)\" is not one of \(schema.classNames.joined(separator: ", "))"))
        return nil
      }
      label = cls.name
    } else if options.labelsFromFolders {
      label = folderLabel(c.path, root: c.labelRoot, schema: schema)
    }
    let maskPath = c.manifestMask ?? masksByStem[FileWalk.stem(c.path)]
    var mask: MaskBlob? = nil
    if let maskPath {
      switch loadMask(maskPath, width: width, height: height, threshold: options.maskThreshold) {
      case .success(let m): mask = MaskBlob(mask: m)
      case .failure(let issue): summary.maskProblems.append(issue)
      }
    }
    return (label, mask, maskPath)
  }

  static func storedPath(_ abs: String, root: String?) -> (String, Bool) {
    if let root, abs.hasPrefix(root.hasSuffix("/") ? root : root + "/") {
      return (String(abs.dropFirst(root.hasSuffix("/") ? root.count : root.count + 1)), true)
    }
    return (abs, false)
  }

  struct Candidate: Sendable {
    var path: String
    var labelRoot: String
    var explicit: Bool
    var manifestLabel: String? = nil
    var manifestMask: String? = nil
  }

  enum Inspection: Sendable {
    case image(sha256: String, format: String, width: Int, height: Int)
    /// Not PNG, JPEG or BMP by its first bytes (Imaging's reason names GIF, TIFF, ...).
    case notImage(String)
    case failed(String)
  }

  /// Reads, hashes and decodes every file under `folder` as import does, on the same threads,
  /// but writes nothing: the part of import that is not the database (what `bench store`
  /// measures import against). Returns how many files decoded as images.
  public static func inspectImages(under folder: String) -> Int {
    var walk = FileWalk()
    walk.walk(Workspace.absolute(folder))
    let candidates = walk.files.map { Candidate(path: $0, labelRoot: folder, explicit: false) }
    var decoded = 0
    for start in stride(from: 0, to: candidates.count, by: 128) {
      for r in inspect(Array(candidates[start..<min(start + 128, candidates.count)])) {
        if case .image = r { decoded += 1 }
      }
    }
    return decoded
  }

  /// Reads, hashes and decodes a batch on all cores.
  static func inspect(_ batch: [Candidate]) -> [Inspection] {
    let results = ResultBox(count: batch.count)
    DispatchQueue.concurrentPerform(iterations: batch.count) { i in
      results.set(i, inspectOne(batch[i].path))
    }
    return results.values
  }

  static func inspectOne(_ path: String) -> Inspection {
    let bytes: [UInt8]
    switch FileWalk.readFile(path) {
    case .success(let b): bytes = b
    case .failure(let issue): return .failed(issue.reason)
    }
    guard let format = ImageFormat.sniff(bytes) else {
      if bytes.isEmpty { return .failed("empty file") }
      do {
        _ = try probeImage(data: bytes, name: path)
        return .notImage("not an image")
      } catch {
        return .notImage(reasonText(error))
      }
    }
    do {
      let image = try decodeImage(data: bytes, name: path)
      return .image(
        sha256: Digest.sha256Hex(bytes), format: format.rawValue, width: image.width, height: image.height)
    } catch {
      return .failed(reasonText(error))
    }
  }

  /// The reason part of an Imaging error (the path is reported separately).
  static func reasonText(_ error: ImageError) -> String { error.reason.description }

  static func loadMask(_ path: String, width: Int, height: Int, threshold: UInt8) -> Result<Mask, ImportIssue>
  {
    do {
      let m = try decodeMask(at: path)
      guard m.width == width, m.height == height else {
        return .failure(
          ImportIssue(
            path: path, reason: "mask is \(m.width)×\(m.height) but its image is \(width)×\(height); not used"
          ))
      }
      return .success(Mask(width: width, height: height, values: m.values.map { $0 > threshold ? 255 : 0 }))
    } catch {
      return .failure(ImportIssue(path: path, reason: reasonText(error) + "; mask not used"))
    }
  }

  static func readManifest(_ path: String, summary: inout ImportSummary) throws(StoreError) -> [Candidate] {
    let data: [UInt8]
    do { data = try SafeFile.read(path, maxBytes: 256 << 20) } catch {
      throw .io(path: path, reason: "cannot read the manifest: \(error.why)")
    }
    let base = (Workspace.absolute(path) as NSString).deletingLastPathComponent
    let table = CSV.parseLines(String(decoding: data, as: UTF8.self))
    guard let header = table.first?.fields else { throw .invalidInput("manifest \(path) is empty") }
    let names = header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    guard let pathCol = names.firstIndex(where: { ["path", "image", "file", "filename"].contains($0) }) else {
      throw .invalidInput(
        "manifest \(path): the header needs a `path` column (found: \(header.joined(separator: ", ")))")
    }
    let labelCol = names.firstIndex(of: "label")
    let maskCol = names.firstIndex(of: "mask")
    var out: [Candidate] = []
    for (line, row) in table.dropFirst() {
      if row.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
      guard pathCol < row.count, !row[pathCol].isEmpty else {
        summary.skipped.append(ImportIssue(path: "\(path):\(line)", reason: "no path in this row"))
        continue
      }
      func resolve(_ p: String) -> String { Workspace.absolute(p.hasPrefix("/") ? p : base + "/" + p) }
      let label = labelCol.flatMap { $0 < row.count ? row[$0].trimmingCharacters(in: .whitespaces) : nil }
      let mask = maskCol.flatMap { $0 < row.count ? row[$0].trimmingCharacters(in: .whitespaces) : nil }
      let abs = resolve(row[pathCol])
      out.append(
        Candidate(
          path: abs, labelRoot: (abs as NSString).deletingLastPathComponent, explicit: true,
          manifestLabel: (label?.isEmpty ?? true) ? nil : label,
          manifestMask: (mask?.isEmpty ?? true) ? nil : resolve(mask!)))
    }
    return out
  }
}

/// A batch being inspected on a background queue.
private final class InspectionJob: @unchecked Sendable {
  private let done = DispatchSemaphore(value: 0)
  private var results: [CaseStore.Inspection] = []

  init(_ batch: [CaseStore.Candidate]) {
    DispatchQueue.global(qos: .userInitiated).async {
      self.results = CaseStore.inspect(batch)
      self.done.signal()
    }
  }

  func wait() -> [CaseStore.Inspection] {
    done.wait()
    return results
  }
}

/// Results written by index from `concurrentPerform` workers.
private final class ResultBox: @unchecked Sendable {
  private var storage: [CaseStore.Inspection]
  private let lock = NSLock()
  init(count: Int) { storage = Array(repeating: .failed("not inspected"), count: count) }
  func set(_ i: Int, _ v: CaseStore.Inspection) {
    lock.lock()
    storage[i] = v
    lock.unlock()
  }
  var values: [CaseStore.Inspection] {
    lock.lock()
    defer { lock.unlock() }
    return storage
  }
}

extension CaseStore {
  /// Refreshes the query planner's statistics (`ANALYZE` via `PRAGMA optimize`); import
  /// calls it after large imports so the browser's plans use the right indexes.
  public func optimize() throws(StoreError) {
    try CaseStore.retrying(path: workspace.databasePath) {
      try pool.writeWithoutTransaction { db in
        try db.execute(sql: "PRAGMA analysis_limit = 1000")
        try db.execute(sql: "ANALYZE")
      }
    }
  }
}
