import ArgumentParser
import CaseStore
import Foundation
import Terminal

/// `blastview import`: adds images to the workspace as cases.
struct ImportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Import PNG, JPEG and BMP images (directories are walked) as cases.",
    discussion: """
      Each file is read once: its SHA-256 identifies the case (the same bytes twice make one \
      case), it is decoded fully (a damaged file is reported and skipped), and its split \
      (train/val/test, 80/10/10) comes from a seeded hash of the SHA-256, so it never \
      changes. --labels-from-folders takes the reference label from the nearest folder \
      named for a class (Benign/Early/Pre/Pro, Early-B, early_pre_b, ...). --masks pairs \
      masks with images by file stem; a mask pixel above --mask-threshold is nucleus. \
      --manifest reads a CSV with columns path[,label][,mask].
      """)

  @OptionGroup var workspace: WorkspaceOptions

  @Argument(help: ArgumentHelp("Image files or directories.", valueName: "path"))
  var paths: [String] = []

  @Flag(name: .long, help: "Take reference labels from folder names.")
  var labelsFromFolders = false

  @Option(name: .long, help: ArgumentHelp("Directory of masks, matched by file stem.", valueName: "dir"))
  var masks: String?

  @Option(name: .long, help: ArgumentHelp("CSV with columns path[,label][,mask].", valueName: "csv"))
  var manifest: String?

  @Option(name: .long, help: ArgumentHelp("Store paths relative to this folder.", valueName: "dir"))
  var imageRoot: String?

  @Flag(name: .long, help: "Accept an --image-root different from the recorded one (the images moved).")
  var relocateImageRoot = false

  @Option(name: .long, help: "Mask values above this are nucleus (wbc-seg: 255 nucleus, 128 cytoplasm).")
  var maskThreshold: UInt8 = 128

  @Flag(name: .long, help: "Print the summary as JSON.")
  var json = false

  func validate() throws {
    if paths.isEmpty && manifest == nil {
      throw ValidationError("give image files or directories, or --manifest")
    }
  }

  func run() throws {
    let store = try workspace.open()
    let bar = ProgressBar(label: "importing")
    let options = ImportOptions(
      paths: paths, labelsFromFolders: labelsFromFolders, masksDirectory: masks, manifest: manifest,
      imageRoot: imageRoot, relocateImageRoot: relocateImageRoot, maskThreshold: maskThreshold)
    let summary: ImportSummary
    do {
      summary = try store.importImages(options) { bar.update(done: $0.done, total: $0.total) }
    } catch {
      bar.finish()
      throw CLIError(error)
    }
    bar.finish()
    if json {
      try JSONOutput.print(summary)
      if !summary.refused.isEmpty { throw ExitCode.failure }
      return
    }
    let rate = summary.seconds > 0 ? Double(summary.found) / summary.seconds : 0
    print(
      "Imported \(CLIText.count(summary.imported)) image(s) into \(Sanitizer.sanitize(store.workspace.directory)): "
        + "\(CLIText.count(summary.duplicates)) duplicate(s), \(CLIText.count(summary.skipped.count)) skipped "
        + String(format: "(%.1f s, %.0f images/s)", summary.seconds, rate))
    print(
      "  with reference label: \(CLIText.count(summary.labelled)); with mask: \(CLIText.count(summary.masks))"
        + (summary.otherFiles > 0 ? "; other files ignored: \(CLIText.count(summary.otherFiles))" : "")
        + (summary.maskFiles > 0
          ? "; files under --masks not imported as images: \(CLIText.count(summary.maskFiles))" : ""))
    if labelsFromFolders && summary.labelled < summary.imported {
      print(
        "  \(CLIText.count(summary.imported - summary.labelled)) image(s) had no folder named for a class")
    }
    func list(_ title: String, _ issues: [ImportIssue]) {
      guard !issues.isEmpty else { return }
      print("\(title):")
      for i in issues.prefix(50) { print("  \(Sanitizer.sanitize(i.path)): \(Sanitizer.sanitize(i.reason))") }
      if issues.count > 50 { print("  ... and \(issues.count - 50) more (use --json for all)") }
    }
    list("Skipped", summary.skipped)
    list("Masks not used", summary.maskProblems)
    list("Directories not read", summary.directoryProblems)
    if !summary.refused.isEmpty {
      list("Not imported", summary.refused)
      throw CLIError(
        message:
          "\(summary.refused.count) file(s) could not be imported (listed under \"Not imported\"); the rest were"
      )
    }
  }
}
