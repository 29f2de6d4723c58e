import ArgumentParser
import CaseStore
import Foundation
import Terminal
import Workflows

/// `blastview triage`: the disagreement triage queue for scripts, the same queue the review
/// app's triage screen shows (the store's `triageQueue`).
struct TriageCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "triage",
    abstract:
      "List the cases to adjudicate: raters disagree, a rater disagrees with the model, or the model is unsure.",
    discussion: """
      Most severe first: benign against malignant disagreements, then subtype \
      disagreements, then cases where everyone agrees but the promoted model's top \
      probability is below --confidence-below; within each, the model's least confident \
      cases first. Adjudicated cases leave the queue. The queue is read as --rater sees the \
      workspace: cases on which a blinded rater may not yet see others' labels are left out. \
      With --session, only that session's cases and the labels made in it.
      """)

  @OptionGroup var workspace: WorkspaceOptions
  @OptionGroup var reader: RaterOption

  @Option(name: .long, help: ArgumentHelp("Only this session's cases and labels.", valueName: "name"))
  var session: String?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Low confidence: the model's top probability below this (default: the workspace setting "
        + "triage_confidence_below, else 0.6).", valueName: "p"))
  var confidenceBelow: Double?

  @Flag(
    name: .long,
    help: "Store --confidence-below as the workspace's default (the review app's triage starts from it).")
  var saveThreshold = false

  @Option(name: .long, help: "At most this many cases.")
  var limit: Int = 100_000

  @Flag(name: .long, help: "Print JSON.")
  var json = false

  func validate() throws {
    if let c = confidenceBelow, !(c > 0 && c <= 1) {
      throw ValidationError("--confidence-below must be in (0, 1], got \(c)")
    }
    if saveThreshold && confidenceBelow == nil {
      throw ValidationError("--save-threshold needs --confidence-below")
    }
    guard limit > 0 else { throw ValidationError("--limit must be positive") }
  }

  func run() throws {
    let store: any ReviewStore = try workspace.openShared() ?? workspace.open()
    do {
      // On a shared workspace the reader is the connection's role.
      let readerName = try store.actingRater(claimed: reader.rater)
      let saved = try store.setting(TriageCommand.setting).flatMap(Double.init)
      let threshold = confidenceBelow ?? saved ?? 0.6
      if saveThreshold {
        guard let local = store.embeddedStore else {
          throw CLIError(
            message:
              "--save-threshold changes a workspace setting, which only an embedded workspace has for now")
        }
        try local.setSetting(TriageCommand.setting, String(threshold))
      }
      let screening = try ScreeningOperatingPoint.promoted(in: store)
      let items = try store.triageQueue(
        viewer: Viewer(rater: readerName), confidenceBelow: threshold, limit: limit, session: session,
        possiblyMalignantFrom: screening?.point?.threshold)
      if json {
        print(
          Self.json(
            items, threshold: threshold, session: session, reader: readerName,
            operatingPoint: screening?.point?.threshold
          ).render())
        return
      }
      // Classes by the schema's names, never its letters (issue 18, item 7: "R" is Pro-B).
      func name(_ l: String?) -> String { l.map { Sanitizer.sanitize($0) } ?? "-" }
      print(
        "Triage of \(session.map { "session " + Sanitizer.sanitize($0) } ?? "the workspace"), read as "
          + "\(Sanitizer.sanitize(readerName)): \(CLIText.count(items.count)) case(s); low confidence = top probability below \(threshold)"
      )
      if store.labelSchema.isHierarchical, let screening {
        print(
          screening.point.map {
            "  possibly malignant = P(malignant) >= \($0.threshold) (model v\(screening.version)'s operating point); "
              + "such a case a rater called \(Sanitizer.sanitize(store.labelSchema.groups.first ?? "benign")) comes first"
          } ?? "  model v\(screening.version) has no screening operating point: no possibly-malignant call")
      }
      if items.isEmpty { return }
      var grid = [["#", "case", "severity", "why", "raters", "model"]]
      for (i, item) in items.enumerated() {
        let raters = item.labels.keys.sorted().map { "\(Sanitizer.sanitize($0)) \(name(item.labels[$0]))" }
          .joined(separator: ", ")
        let model =
          item.predictedLabel.map {
            "\(name($0)) " + (item.confidence.map { String(format: "%.2f", $0) } ?? "")
          }
          ?? "-"
        grid.append([
          String(i + 1), String(item.caseID), item.severity.name, item.why, raters.isEmpty ? "-" : raters,
          model,
        ])
      }
      // Left-aligned columns, two spaces apart (names and words, not numbers).
      var widths = [Int](repeating: 0, count: grid[0].count)
      for row in grid { for (j, cell) in row.enumerated() { widths[j] = max(widths[j], cell.count) } }
      for row in grid {
        let cells = row.enumerated().map { j, c in c.padding(toLength: widths[j], withPad: " ", startingAt: 0)
        }
        print("  " + cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
      }
    } catch {
      throw CLIError(error)
    }
  }

  static let setting = "triage_confidence_below"

  static func json(
    _ items: [TriageItem], threshold: Double, session: String?, reader: String, operatingPoint: Double? = nil
  ) -> JSONOutput {
    .object([
      ("session", session.map { .string($0) } ?? .null), ("read_as", .string(reader)),
      ("confidence_below", .double(threshold)), ("possibly_malignant_from", .number(operatingPoint)),
      ("n", .int(items.count)),
      (
        "queue",
        .array(
          items.enumerated().map { i, item in
            .object([
              ("position", .int(i + 1)), ("case", .int(Int(item.caseID))),
              ("severity", .string(item.severity.name)),
              ("raters_disagree", .bool(item.ratersDisagree)),
              ("disagrees_with_model", .bool(item.disagreesWithModel)),
              ("labels", .object(item.labels.keys.sorted().map { ($0, .string(item.labels[$0]!)) })),
              ("predicted_label", item.predictedLabel.map { .string($0) } ?? .null),
              ("confidence", .number(item.confidence)),
              ("p_malignant", .number(item.pMalignant)),
            ])
          })
      ),
    ])
  }
}

extension TriageSeverity {
  /// The severity as scripts see it.
  var name: String {
    switch self {
    case .possiblyMalignantCalledBenign: return "possibly_malignant_called_benign"
    case .groupDisagreement: return "benign_vs_malignant"
    case .classDisagreement: return "subtype"
    case .lowConfidence: return "low_confidence"
    }
  }
}

extension TriageItem {
  var why: String {
    var w: [String] = []
    if severity == .possiblyMalignantCalledBenign {
      w.append(String(format: "model: possibly malignant (P %.3f), rater: benign", pMalignant ?? 0))
    }
    if ratersDisagree { w.append("raters disagree") }
    if disagreesWithModel { w.append("rater vs model") }
    return w.isEmpty ? "model unsure" : w.joined(separator: ", ")
  }
}
