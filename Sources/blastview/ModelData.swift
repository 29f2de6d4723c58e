import ArgumentParser
import CaseStore
import Foundation
import MTACNN
import NeuralEngine
import Terminal
import Workflows

/// Data options and loading shared by `train` and `eval`: a folder per class with optional masks,
/// and an optional segmentation-only folder (issue 4: wbc-seg's expert masks join Aria's weak ones).
struct FolderDataOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Folder with one sub-folder per class (Benign/Early/Pre/Pro, or the wbc5 names).", valueName: "dir"))
  var data: String?

  @Option(
    help: ArgumentHelp(
      "Mask folder mirroring --data (expert masks, or Aria's Segmented/ weak masks).", valueName: "dir"))
  var masks: String?

  @Option(
    help: ArgumentHelp(
      "How to read --masks: expert (nucleus >= 192), weak (Aria colour threshold), or auto (colour files: weak).",
      valueName: "kind"))
  var maskKind: String = "auto"

  @Option(
    help: ArgumentHelp(
      "Classes whose weak masks are not used (default: Pro for all4; its Aria masks miss the nuclei).",
      valueName: "classes"))
  var noMasksFor: String?

  @Option(
    help: ArgumentHelp(
      "A further folder of images used for segmentation only (class folders of any schema).", valueName: "dir"
    ))
  var segData: String?

  @Option(help: ArgumentHelp("Masks for --seg-data.", valueName: "dir"))
  var segMasks: String?

  @Option(help: "Seed of the stratified 80/10/10 split.")
  var splitSeed: UInt64 = 0

  func validateCombination() throws {
    if (segData == nil) != (segMasks == nil) {
      throw ValidationError("--seg-data and --seg-masks go together")
    }
    guard ["auto", "expert", "weak"].contains(maskKind) else {
      throw ValidationError("--mask-kind must be auto, expert or weak, got \(Sanitizer.sanitize(maskKind))")
    }
  }

  /// The dataset of `--data` for `schema` (masks excluded as asked), and how its masks are read.
  func folderDataset(schema: ClassSchema) throws -> (FolderDataset, MaskKind?) {
    guard let data else { throw CLIError(message: "give --data DIR") }
    var kind: MaskKind? = nil
    var excluded: Set<Int> = []
    if masks != nil {
      let probe = try dataset(root: data, schema: schema, masks: masks, excluded: [])
      kind = try resolveKind(probe.items.compactMap(\.maskPath))
      let names = noMasksFor ?? (schema.name == "all4" && kind == .weak ? "Pro" : "")
      for n in names.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !n.isEmpty {
        guard let k = schema.classes.firstIndex(where: { $0.lowercased() == n.lowercased() }) else {
          throw CLIError(
            message:
              "--no-masks-for names \(n), not a class of \(schema.name) (\(schema.classes.joined(separator: ", ")))"
          )
        }
        excluded.insert(k)
      }
      if excluded.isEmpty { return (probe, kind) }
    }
    return (try dataset(root: data, schema: schema, masks: masks, excluded: excluded), kind)
  }

  func segmentationDataset() throws -> (FolderDataset, MaskKind)? {
    guard let segData, let segMasks else { return nil }
    let ds: FolderDataset
    do {
      ds = try FolderDataset.segmentationOnly(root: segData, masks: segMasks, splitSeed: splitSeed)
    } catch {
      throw CLIError(error)
    }
    return (ds, try resolveKind(ds.items.compactMap(\.maskPath)))
  }

  private func dataset(root: String, schema: ClassSchema, masks: String?, excluded: Set<Int>) throws
    -> FolderDataset
  {
    do {
      return try FolderDataset(
        root: root, schema: schema, masks: masks, masksExcludedFor: excluded, splitSeed: splitSeed)
    } catch {
      throw CLIError(error)
    }
  }

  private func resolveKind(_ files: [String]) throws -> MaskKind {
    switch maskKind {
    case "expert": return .expert
    case "weak": return .weak
    default: return MaskKind.detect(maskFiles: files)
    }
  }
}

/// Loads items into examples with a one-line progress bar, reporting skipped files on stderr.
func loadExamples(
  _ items: [DatasetItem], preprocessing: Preprocessing, maskKind: MaskKind?, withLabels: Bool = true,
  shift: ColourShift = .none, label: String, quiet: Bool
) -> [Example] {
  let bar = ProgressBar(label: label, enabled: !quiet && isatty(STDERR_FILENO) == 1)
  let (examples, skipped) = ExampleLoader.load(
    items, preprocessing: preprocessing, maskKind: maskKind, withLabels: withLabels, shift: shift
  ) { done, total in bar.update(done: done, total: total) }
  bar.finish()
  for s in skipped { printError("skipped \(Sanitizer.sanitize(s.description))") }
  return examples
}

/// The workspace's training data (`WorkspaceTrainingData`) with a progress bar, reporting
/// skipped cases on stderr.
func loadWorkspaceTrainingData(store: any RetrainingStore, model: MTACNNModel, quiet: Bool) throws
  -> WorkspaceTrainingData.Loaded
{
  let bar = ProgressBar(label: "workspace", enabled: !quiet && isatty(STDERR_FILENO) == 1)
  defer { bar.finish() }
  do {
    return try WorkspaceTrainingData.load(
      store: store, model: model, progress: { bar.update(done: $0, total: $1) },
      skipped: { printError($0) })
  } catch {
    throw CLIError(error)
  }
}

/// Writes `text` and a line break on stderr, through the `Sanitizer` (a skipped file's name or
/// a decoder's message is data).
func printError(_ text: String) {
  FileHandle.standardError.write(Data((Sanitizer.sanitize(text, mode: .text) + "\n").utf8))
}

/// "1:02:03" or "4:05".
func formatDuration(_ seconds: Double) -> String {
  guard seconds.isFinite, seconds >= 0 else { return "?" }
  let s = Int(seconds.rounded())
  let h = s / 3600
  let m = (s % 3600) / 60
  let r = s % 60
  return h > 0 ? String(format: "%d:%02d:%02d", h, m, r) : String(format: "%d:%02d", m, r)
}
