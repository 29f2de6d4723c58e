import ArgumentParser
import CaseStore
import Foundation
import Imaging
import Terminal

/// `blastview annotate`: records a label and/or mask for one case.
struct AnnotateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "annotate",
    abstract: "Record a rater's label and/or nucleus mask for a case (appended; history is kept).",
    discussion: """
      CASE is a case id, an image path or a SHA-256 prefix (6+ hex digits). A field not \
      given is carried forward from the rater's previous annotation of the case.
      """)

  @OptionGroup var workspace: WorkspaceOptions
  @OptionGroup var rater: RaterOption

  @Argument(help: ArgumentHelp("Case id, image path or SHA-256 prefix.", valueName: "case"))
  var caseRef: String

  @Option(name: .long, help: ArgumentHelp("The class (name or alias).", valueName: "name"))
  var label: String?

  @Option(name: .long, help: ArgumentHelp("A mask image the size of the case's image.", valueName: "png"))
  var mask: String?

  @Option(name: .long, help: "Mask values above this are nucleus.")
  var maskThreshold: UInt8 = 128

  @Option(name: .long, help: ArgumentHelp("Record it in this session.", valueName: "name"))
  var session: String?

  @Option(name: .long, help: ArgumentHelp("A free-text note kept with the annotation.", valueName: "text"))
  var note: String?

  @Flag(name: .long, help: "Print the annotation as JSON.")
  var json = false

  func validate() throws {
    if label == nil && mask == nil { throw ValidationError("give --label, --mask or both") }
  }

  func run() throws {
    let store = try workspace.open()
    do {
      let caseID = try store.resolveCase(caseRef)
      try store.requireUnchangedImage(case: caseID)
      var m: Mask? = nil
      if let mask {
        let raw: Mask
        do { raw = try decodeMask(at: mask) } catch { throw CLIError(error) }
        m = Mask(
          width: raw.width, height: raw.height, values: raw.values.map { $0 > maskThreshold ? 255 : 0 })
        if m!.values.allSatisfy({ $0 == 0 }), let top = raw.values.max(), top > 0 {
          throw CLIError(
            message:
              "\(mask): no pixel is above --mask-threshold \(maskThreshold) (the largest value is \(top)); "
              + "nothing was recorded")
        }
      }
      let a = try store.annotate(
        case: caseID, rater: rater.name, label: label, mask: m, session: session, note: note)
      if json {
        try JSONOutput.print(a)
        return
      }
      let rec = try store.caseRecord(id: caseID, viewer: .rater(rater.name))
      var parts = ["label \(a.label.map(Sanitizer.sanitize(_:)) ?? "none")"]
      if let m { parts.append("mask \(CLIText.count(m.values.filter { $0 != 0 }.count)) px") }
      print(
        "Annotation \(a.id) by \(Sanitizer.sanitize(a.rater)) on case \(caseID) (\(Sanitizer.sanitize(rec.path))): "
          + parts.joined(separator: ", ") + (a.session.map { " in session \(Sanitizer.sanitize($0))" } ?? "")
          + (a.supersedes.map { "; supersedes \($0)" } ?? ""))
    } catch let e as CLIError {
      throw e
    } catch {
      throw CLIError(error)
    }
  }
}
