import ArgumentParser
import CaseStore
import Foundation
import Terminal

/// `blastview history CASE`: the audit trail of one case.
struct HistoryCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "history",
    abstract: "Show every annotation of a case, oldest first (as the rater may see them).",
    discussion:
      "Blinded sessions apply: other raters' entries stay hidden until --rater has labelled the case.")

  @OptionGroup var workspace: WorkspaceOptions
  @OptionGroup var rater: RaterOption

  @Argument(help: ArgumentHelp("Case id, image path or SHA-256 prefix.", valueName: "case"))
  var caseRef: String

  @Flag(name: .long, help: "Print JSON.")
  var json = false

  func run() throws {
    if let shared = try workspace.openShared() { return try runShared(shared) }
    let store = try workspace.open()
    do {
      let id = try store.resolveCase(caseRef)
      let viewer = Viewer.rater(rater.name)
      let record = try store.caseRecord(id: id, viewer: viewer)
      let history = try store.history(case: id, viewer: viewer)
      let adjudications = try store.adjudications(case: id, viewer: viewer)
      let detail = try store.caseDetail(id: id, viewer: viewer)
      if json {
        struct Out: Encodable {
          var caseRecord: CaseRecord
          var annotations: [Annotation]
          var adjudications: [Adjudication]
          var blinded: Bool
        }
        try JSONOutput.print(
          Out(caseRecord: record, annotations: history, adjudications: adjudications, blinded: detail.blinded)
        )
        return
      }
      print(
        "Case \(id): \(Sanitizer.sanitize(record.path)) (\(record.width)×\(record.height), \(record.split.rawValue)"
          + (record.referenceLabel.map { ", reference \(Sanitizer.sanitize($0))" } ?? "") + ")")
      if detail.blinded {
        print("  (blinded: other raters' annotations are hidden until you label this case in your session)")
      }
      if history.isEmpty { print("  no annotations") }
      for a in history {
        let changed = [a.changed.contains(.label) ? "label" : nil, a.changed.contains(.mask) ? "mask" : nil]
          .compactMap { $0 }.joined(separator: "+")
        print(
          "  #\(a.id)  \(isoTime(a.createdAt))  \(Sanitizer.sanitize(a.rater))  label=\(a.label.map(Sanitizer.sanitize(_:)) ?? "-")"
            + "  mask=\(a.maskID == nil ? "no" : "yes")  changed=\(changed)"
            + (a.session.map { "  session=\(Sanitizer.sanitize($0))" } ?? "")
            + (a.supersedes.map { "  supersedes #\($0)" } ?? "")
            + (a.revisesBlindLabel ? "  revision after unblinding (not counted)" : "")
            + (a.note.map { "  note: \(Sanitizer.sanitize($0))" } ?? ""))
      }
      for j in adjudications {
        print(
          "  adjudication #\(j.id)  \(isoTime(j.createdAt))  \(Sanitizer.sanitize(j.adjudicator))  final=\(Sanitizer.sanitize(j.label))"
            + "  reason: \(Sanitizer.sanitize(j.reason))")
      }
    } catch {
      throw CLIError(error)
    }
  }

  private func isoTime(_ d: Date) -> String { ISO8601DateFormatter().string(from: d) }
}
