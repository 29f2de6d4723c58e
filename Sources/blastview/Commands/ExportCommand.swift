import ArgumentParser
import CaseStore
import Foundation
import Terminal

/// `blastview export`: annotations out, in four formats.
struct ExportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Export annotations as CSV, a full JSON dump, mask PNGs or COCO instances.",
    discussion: """
      csv: annotations.csv, one row per annotation (case id, image path, sha256, rater, \
      label, session, created_at, ...), and cases.csv, one row per case: reference label, the \
      promoted model's label and probability, each rater's current label (a column per rater), \
      and the final label with its source (adjudication; else agreement of two or more raters; \
      else the reference label). json: blastview-export.json, the whole workspace with \
      masks as base64 PNG. masks: masks/<case>_<rater>.png, each rater's current mask. coco: \
      coco.json, one instance per connected nucleus component with RLE and bbox (readable by \
      pycocotools; file_name is relative to the workspace's image root, and an instance's \
      category is the class of its case where a label is known, else "nucleus"). \
      --final (masks, coco): one mask per case, the decision: the adjudicated mask, else the \
      mask two or more raters agree on (every pair Dice >= 0.80; the pixels more than half of \
      them drew), else the imported reference mask; masks/final.csv and coco.json's \
      final_mask_source say which, per case. --include-reference (masks, coco): the imported \
      masks too (masks/reference/<case>.png; source "reference" in COCO). Blinding applies to \
      the exporting --rater; on a shared workspace that is the connected role, and the server \
      applies it (image paths there are the import-relative ones).
      """)

  @OptionGroup var workspace: WorkspaceOptions
  @OptionGroup var rater: RaterOption

  @Option(name: .long, help: "csv, json, masks or coco.")
  var format: String

  @Option(name: .long, help: ArgumentHelp("Output directory (created if needed).", valueName: "dir"))
  var out: String

  @Option(name: .long, help: ArgumentHelp("Only this session's annotations.", valueName: "name"))
  var session: String?

  @Flag(name: .long, help: "Only each rater's current annotation.")
  var currentOnly = false

  @Flag(
    name: .long,
    help: "masks/coco: each case's final mask (adjudicated, else agreed by the raters, else the reference).")
  var final = false

  @Flag(name: .long, help: "masks/coco: the masks that came with the import as well.")
  var includeReference = false

  @Flag(name: .long, help: "Print the summary as JSON.")
  var json = false

  func validate() throws {
    guard ExportFormat(rawValue: format) != nil else {
      throw ValidationError("--format must be csv, json, masks or coco, not \(Sanitizer.sanitize(format))")
    }
    if (final || includeReference) && format != "masks" && format != "coco" {
      throw ValidationError(
        "\(final ? "--final" : "--include-reference") applies to --format masks or coco, not \(format)")
    }
  }

  func run() throws {
    // Either backend: a shared workspace exports as the connected role (the server blinds).
    let store: any ExportSource
    let me: String
    if let shared = try workspace.openShared() {
      do { me = try shared.actingRater(claimed: rater.rater) } catch { throw CLIError(error) }
      store = shared
    } else {
      store = try workspace.open()
      me = rater.name
    }
    var summary: ExportSummary
    do {
      summary = try store.export(
        ExportOptions(
          format: ExportFormat(rawValue: format)!, outDirectory: out, session: session,
          currentOnly: currentOnly,
          viewer: .rater(me), final: final, includeReference: includeReference))
      if format == "csv" {
        let cases = try store.exportCasesCSV(outDirectory: out, viewer: .rater(me))
        summary.files.append(cases.path)
      }
    } catch {
      throw CLIError(error)
    }
    try report(summary)
  }

  func report(_ summary: ExportSummary) throws {
    if json {
      try JSONOutput.print(summary)
      return
    }
    var what: [String] = []
    if format == "csv" || format == "json" {
      what.append("\(CLIText.count(summary.annotations)) annotation(s)")
    }
    if format == "masks" || format == "coco" { what.append("\(CLIText.count(summary.masks)) mask(s)") }
    if format == "coco" { what.append("\(CLIText.count(summary.instances)) nucleus instance(s)") }
    print(
      "Exported \(what.joined(separator: ", ")) to \(Sanitizer.sanitize(Workspace(directory: out).directory)) "
        + "(\(summary.files.count) file(s))")
    if let sources = summary.finalSources {
      let parts = ["adjudication", "agreement", "reference", "none"].map { "\(sources[$0] ?? 0) \($0)" }
      print(
        "Final masks by source: \(parts.joined(separator: ", ")) (per case in "
          + (format == "masks" ? "masks/final.csv" : "coco.json's final_mask_source") + ")")
    }
  }
}
