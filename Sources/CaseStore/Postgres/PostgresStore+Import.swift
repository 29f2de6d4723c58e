import Foundation
import Imaging

extension PostgresStore {
  /// Imports images into the shared workspace: each file is read once, identified by its
  /// magic bytes, decoded fully (a damaged file is reported, not imported), hashed, and its
  /// bytes stored in the database by SHA-256, one committed transaction per image, so an
  /// interrupted import keeps every image it reported. The stored path is the file's path
  /// from the named directory (`lymphocyte/001.png`), which is all a rater sees of where it
  /// came from. Leads and the service role only (the server refuses others).
  ///
  /// Masks, manifests and image roots are the embedded workspace's: a shared workspace
  /// refuses them with a message rather than ignoring them.
  public func importImages(_ options: ImportOptions, progress: (ImportProgress) -> Void) throws(StoreError)
    -> ImportSummary
  {
    if options.masksDirectory != nil || options.manifest != nil || options.imageRoot != nil {
      throw .invalidInput(
        "--masks, --manifest and --image-root are for embedded workspaces; a shared workspace imports image "
          + "files and folder labels (--labels-from-folders)")
    }
    let start = Date()
    var summary = ImportSummary()
    let seed =
      try connection.query("SELECT value FROM blastview.settings() WHERE key = 'split_seed'").first?[0]
      ?? Split.defaultSeed
    // (file, label root, stored path, named explicitly)
    var files: [(path: String, root: String, stored: String, explicit: Bool)] = []
    for p in options.paths {
      let abs = Workspace.absolute(p)
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: abs, isDirectory: &isDir) else {
        summary.skipped.append(ImportIssue(path: p, reason: "no such file or directory"))
        continue
      }
      if isDir.boolValue {
        var walk = FileWalk()
        walk.walk(abs)
        summary.directoryProblems += walk.problems
        let parent = (abs as NSString).deletingLastPathComponent
        for f in walk.files.sorted() {
          let stored = parent == "/" ? String(f.dropFirst()) : String(f.dropFirst(parent.count + 1))
          files.append((f, abs, stored, false))
        }
      } else {
        files.append(
          (abs, (abs as NSString).deletingLastPathComponent, (abs as NSString).lastPathComponent, true))
      }
    }
    for (k, f) in files.enumerated() {
      progress(ImportProgress(done: k, total: files.count, path: f.path))
      let bytes: [UInt8]
      switch FileWalk.readFile(f.path) {
      case .success(let b): bytes = b
      case .failure(let issue):
        summary.skipped.append(issue)
        continue
      }
      guard let format = ImageFormat.sniff(bytes) else {
        if f.explicit || FileWalk.hasImageExtension(f.path) {
          summary.skipped.append(
            ImportIssue(path: f.path, reason: bytes.isEmpty ? "empty file" : "not an image"))
        } else {
          summary.otherFiles += 1
        }
        continue
      }
      let image: RGBImage
      do { image = try decodeImage(data: bytes, name: f.path) } catch {
        summary.skipped.append(ImportIssue(path: f.path, reason: CaseStore.reasonText(error)))
        continue
      }
      summary.found += 1
      let sha = Digest.sha256Hex(bytes)
      let label = options.labelsFromFolders ? folderLabel(f.path, root: f.root) : nil
      let added = try addImage(
        path: f.stored, bytes: bytes, sha256: sha, format: format.rawValue, width: image.width,
        height: image.height, referenceLabel: label, split: Split.of(sha256Hex: sha, seed: seed))
      if added.created {
        summary.imported += 1
        summary.caseIDs.append(added.id)
        if label != nil { summary.labelled += 1 }
      } else {
        summary.duplicates += 1
      }
    }
    progress(ImportProgress(done: files.count, total: files.count, path: ""))
    summary.seconds = Date().timeIntervalSince(start)
    return summary
  }

  /// The nearest ancestor folder, up to the named directory, named for a class (as
  /// `CaseStore.folderLabel`).
  func folderLabel(_ path: String, root: String) -> String? {
    var dir = (path as NSString).deletingLastPathComponent
    while dir.count >= root.count && dir != "/" {
      if let c = labelSchema.resolve((dir as NSString).lastPathComponent) { return c.name }
      if dir == root { break }
      dir = (dir as NSString).deletingLastPathComponent
    }
    return nil
  }
}
