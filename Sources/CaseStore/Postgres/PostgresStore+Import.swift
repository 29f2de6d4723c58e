import Foundation
import Imaging

extension PostgresStore {
  /// Imports images into the shared workspace: each file is read once, identified by its
  /// magic bytes, decoded fully (a damaged file is reported, not imported), hashed, and its
  /// bytes stored in the database by SHA-256, one committed transaction per image (with its
  /// reference mask), so an interrupted import keeps every image it reported. The stored path
  /// is the file's path from the named directory (`lymphocyte/001.png`), or from the
  /// manifest's directory, which is all a rater sees of where it came from. Leads and the
  /// service role only (the server refuses others).
  ///
  /// The files, labels and masks are chosen as the embedded importer chooses them (the same
  /// `indexMasks`, `importCandidates` and `loadMask`): `--masks` pairs by file stem,
  /// `--manifest` gives path, label and mask. An image root is the embedded workspace's (a
  /// shared one keeps the bytes, not paths) and is refused with a message.
  public func importImages(_ options: ImportOptions, progress: (ImportProgress) -> Void) throws(StoreError)
    -> ImportSummary
  {
    if options.imageRoot != nil || options.relocateImageRoot {
      throw .invalidInput(
        "--image-root is for embedded workspaces: a shared workspace stores the images' bytes, not their paths"
      )
    }
    let start = Date()
    var summary = ImportSummary()
    let seed =
      try connection.query("SELECT value FROM blastview.settings() WHERE key = 'split_seed'").first?[0]
      ?? Split.defaultSeed
    let (masksByStem, maskDirectory) = try CaseStore.indexMasks(options, summary: &summary)
    let candidates = try CaseStore.importCandidates(options, maskDirectory: maskDirectory, summary: &summary)
    let manifestBase = options.manifest.map { (Workspace.absolute($0) as NSString).deletingLastPathComponent }
    var seenHashes: Set<String> = []
    for (k, c) in candidates.enumerated() {
      progress(ImportProgress(done: k, total: candidates.count, path: c.path))
      let bytes: [UInt8]
      switch FileWalk.readFile(c.path) {
      case .success(let b): bytes = b
      case .failure(let issue):
        summary.skipped.append(issue)
        continue
      }
      guard let format = ImageFormat.sniff(bytes) else {
        if c.explicit || FileWalk.hasImageExtension(c.path) {
          summary.skipped.append(
            ImportIssue(path: c.path, reason: bytes.isEmpty ? "empty file" : "not an image"))
        } else {
          summary.otherFiles += 1
        }
        continue
      }
      let image: RGBImage
      do { image = try decodeImage(data: bytes, name: c.path) } catch {
        summary.skipped.append(ImportIssue(path: c.path, reason: CaseStore.reasonText(error)))
        continue
      }
      summary.found += 1
      let sha = Digest.sha256Hex(bytes)
      guard seenHashes.insert(sha).inserted else {
        summary.duplicates += 1
        continue
      }
      guard
        let chosen = CaseStore.referenceLabelAndMask(
          c, schema: labelSchema, options: options, masksByStem: masksByStem, width: image.width,
          height: image.height, summary: &summary)
      else { continue }
      let label = chosen.label
      let added = try addImage(
        path: storedPath(c, manifestBase: manifestBase), bytes: bytes, sha256: sha, format: format.rawValue,
        width: image.width, height: image.height, referenceLabel: label,
        split: Split.of(sha256Hex: sha, seed: seed),
        mask: chosen.mask,
        maskSource: chosen.maskPath.map {
          storedMaskSource($0, directory: maskDirectory, manifestBase: manifestBase)
        })
      if added.created {
        summary.imported += 1
        summary.caseIDs.append(added.id)
        if label != nil { summary.labelled += 1 }
        if added.masked { summary.masks += 1 }
      } else {
        summary.duplicates += 1
      }
    }
    progress(ImportProgress(done: candidates.count, total: candidates.count, path: ""))
    summary.seconds = Date().timeIntervalSince(start)
    return summary
  }

  /// Where a case says it came from: the path from the named directory's parent
  /// (`lymphocyte/001.png`), from the manifest's directory, or the file's name.
  func storedPath(_ c: CaseStore.Candidate, manifestBase: String?) -> String {
    if let base = manifestBase, c.path.hasPrefix(base + "/") {
      return String(c.path.dropFirst(base.count + 1))
    }
    if !c.explicit {
      let parent = (c.labelRoot as NSString).deletingLastPathComponent
      return parent == "/" ? String(c.path.dropFirst()) : String(c.path.dropFirst(parent.count + 1))
    }
    return (c.path as NSString).lastPathComponent
  }

  /// A reference mask's source as stored: its path from the masks directory's parent or the
  /// manifest's directory (no more of the importing user's file system than that).
  func storedMaskSource(_ path: String, directory: String?, manifestBase: String?) -> String {
    for base in [directory.map { ($0 as NSString).deletingLastPathComponent }, manifestBase].compactMap({ $0 }
    )
    where path.hasPrefix(base + "/") {
      return String(path.dropFirst(base.count + 1))
    }
    return (path as NSString).lastPathComponent
  }
}
