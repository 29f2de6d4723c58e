import ArgumentParser
import CaseStore
import Foundation
import Imaging
import Terminal

/// `blastview adjudicate`: record a case's final label (and optionally mask) with a reason.
/// Only raters with the adjudicator role may (the store refuses anyone else).
struct AdjudicateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "adjudicate",
    abstract:
      "Record a case's final label with a reason (adjudicators only); the case leaves the triage queue.",
    discussion: """
      CASE is a case id, an image path or a SHA-256 prefix. The final mask can be taken from \
      a rater's current mask (--mask-from NAME), from the promoted model's (--mask-from \
      model), or from a file (--mask). Give a rater the role with: blastview rater set-role \
      NAME adjudicator.
      """)

  @OptionGroup var workspace: WorkspaceOptions
  @OptionGroup var rater: RaterOption

  @Argument(help: ArgumentHelp("Case id, image path or SHA-256 prefix.", valueName: "case"))
  var caseRef: String

  @Option(name: .long, help: ArgumentHelp("The final class (name or alias).", valueName: "name"))
  var label: String

  @Option(name: .long, help: ArgumentHelp("Why (required).", valueName: "text"))
  var reason: String

  @Option(
    name: .long,
    help: ArgumentHelp("Take this rater's current mask, or the model's (model).", valueName: "name"))
  var maskFrom: String?

  @Option(name: .long, help: ArgumentHelp("A mask image the size of the case's image.", valueName: "png"))
  var mask: String?

  @Option(name: .long, help: "With --mask: values above this are nucleus.")
  var maskThreshold: UInt8 = 128

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Record it in this session (and take --mask-from masks made in it).", valueName: "name"))
  var session: String?

  @Flag(name: .long, help: "Print the adjudication as JSON.")
  var json = false

  func validate() throws {
    if maskFrom != nil && mask != nil { throw ValidationError("give --mask-from or --mask, not both") }
  }

  func run() throws {
    let store: any ReviewStore = try workspace.openShared() ?? workspace.open()
    do {
      // On a shared workspace the adjudicator is the connection's role, and the database
      // itself refuses anyone without the adjudicator role.
      let me = try store.actingRater(claimed: rater.rater)
      let caseID = try store.resolveCase(caseRef)
      try store.requireUnchangedImage(case: caseID)
      var finalMask: Mask? = nil
      if let from = maskFrom {
        let detail = try store.caseDetail(id: caseID, viewer: Viewer(rater: me, session: session))
        let id: Int64?
        if from == "model" {
          guard let p = detail.prediction else {
            throw CLIError(message: "case \(caseID) has no prediction of the promoted model you may see")
          }
          id = p.maskID
        } else {
          guard let a = detail.current.first(where: { $0.rater == from }) else {
            throw CLIError(
              message: "rater \(from) has no annotation of case \(caseID) that \(me) may see"
                + (session.map { " in session \($0)" } ?? ""))
          }
          id = a.maskID
        }
        guard let id else { throw CLIError(message: "\(from) has no mask for case \(caseID)") }
        finalMask = try store.storedMask(id: id)
      } else if let mask {
        let raw: Mask
        do { raw = try decodeMask(at: mask) } catch { throw CLIError(error) }
        finalMask = Mask(
          width: raw.width, height: raw.height, values: raw.values.map { $0 > maskThreshold ? 255 : 0 })
      }
      let j = try store.adjudicate(
        case: caseID, adjudicator: me, label: label, mask: finalMask, reason: reason, session: session)
      if json {
        try JSONOutput.print(j)
        return
      }
      print(
        "Adjudication \(j.id) by \(Sanitizer.sanitize(j.adjudicator)): case \(caseID) is \(Sanitizer.sanitize(j.label))"
          + (j.maskID != nil ? " with a mask" : "") + "; reason: \(Sanitizer.sanitize(j.reason))"
          + (j.supersedes.map { "; supersedes adjudication \($0)" } ?? ""))
    } catch let e as CLIError {
      throw e
    } catch let e as StoreError {
      if case .notAdjudicator(let name) = e {
        throw CLIError(
          message:
            "\(e.description): only adjudicators may adjudicate; a lead gives the role with: "
            + "blastview rater set-role \(name) adjudicator")
      }
      throw CLIError(e)
    } catch {
      throw CLIError(error)
    }
  }
}
