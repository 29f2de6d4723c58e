import ArgumentParser
import CaseStore
import Foundation
import Terminal
import Workflows

/// `blastview model list|show|promote|rollback` (issue 18, item 5): the model registry on the
/// command line, as the review app's model screen has it, so a lead can see what a retraining
/// produced and confirm or undo a promotion from a script or over SSH without the TUI.
struct ModelCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "model",
    abstract: "List, show, promote or roll back the workspace's model versions.",
    subcommands: [List.self, Show.self, Promote.self, Rollback.self, Gate.self])

  /// The gate's verdict as the model screen words it, or the registry notes.
  static func gateLine(_ m: ModelVersion) -> String? {
    guard case .object(let gate)? = m.metrics["gate"], case .string(let reason)? = gate["reason"] else {
      return m.notes
    }
    if case .bool(let promote)? = gate["promote"] {
      return (promote ? "gate passed: " : "gate failed: ") + reason
    }
    return reason
  }

  /// One line per version: "v2 (promoted) parent v1, tasks classification (trained), ...".
  static func line(_ m: ModelVersion) -> String {
    var parts = ["v\(m.version)" + (m.isPromoted ? " (promoted)" : "")]
    parts.append(m.parent.map { "parent v\($0)" } ?? "no parent")
    var tasks = "tasks " + m.tasks.joined(separator: ", ")
    if !m.trainedTasks.isEmpty { tasks += "; trained " + m.trainedTasks.joined(separator: ", ") }
    if !m.frozenTasks.isEmpty { tasks += "; frozen " + m.frozenTasks.joined(separator: ", ") }
    parts.append(tasks)
    parts.append("created " + CaseStore.timestamp(m.createdAt))
    return Sanitizer.sanitize(parts.joined(separator: " · "))
  }

  /// The workspace's registry, whichever backend holds it. On a shared workspace PostgreSQL
  /// decides: every rater lists and shows, only a lead promotes, rolls back or changes the gate.
  static func openRegistry(_ workspace: WorkspaceOptions) throws -> any ModelRegistryStore {
    if let shared = try workspace.openShared() { return shared }
    return try workspace.open()
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "list", abstract: "The model versions, newest first, with the gate's verdict.")
    @OptionGroup var workspace: WorkspaceOptions
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
      let store = try ModelCommand.openRegistry(workspace)
      let models: [ModelVersion]
      do { models = try store.models() } catch { throw CLIError(error) }
      if json {
        try JSONOutput.print(models)
        return
      }
      if models.isEmpty {
        print("No model is registered. Register one with: blastview predict --all-cases --model FILE")
        return
      }
      for m in models {
        print(ModelCommand.line(m))
        if let gate = ModelCommand.gateLine(m) { print("    " + Sanitizer.sanitize(gate)) }
      }
    }
  }

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "show", abstract: "One version: its lineage, tasks, gate, metrics and promotions.")
    @OptionGroup var workspace: WorkspaceOptions
    @Argument(help: ArgumentHelp("The version (2 or v2).", valueName: "version")) var version: String
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
      let store = try ModelCommand.openRegistry(workspace)
      let v = try ModelCommand.parseVersion(version)
      let m: ModelVersion
      let promotions: [ModelPromotion]
      let coverage: (predicted: Int, total: Int)
      do {
        m = try store.model(version: v)
        promotions = try store.modelPromotions().filter { $0.version == v }
        coverage = try store.predictionCoverage(model: v)
      } catch {
        throw CLIError(error)
      }
      if json {
        struct Shown: Encodable {
          var model: ModelVersion
          var promotions: [ModelPromotion]
          var predicted: Int
          var cases: Int
        }
        try JSONOutput.print(
          Shown(model: m, promotions: promotions, predicted: coverage.predicted, cases: coverage.total))
        return
      }
      print(ModelCommand.line(m))
      print("  file: \(Sanitizer.sanitize(m.file)) (SHA-256 \(m.sha256))")
      if let gate = ModelCommand.gateLine(m) { print("  " + Sanitizer.sanitize(gate)) }
      if let f = m.frozenVerified {
        print("  frozen tasks " + (f ? "verified bit for bit against the parent" : "CHANGED during training"))
      }
      print("  predictions: \(coverage.predicted) of \(coverage.total) cases")
      if promotions.isEmpty { print("  never promoted") }
      for p in promotions {
        print(
          "  promoted \(CaseStore.timestamp(p.at))"
            + (p.by.map { " by \(Sanitizer.sanitize($0))" } ?? "")
            + (p.reason.map { ": \(Sanitizer.sanitize($0))" } ?? ""))
      }
    }
  }

  struct Promote: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "promote",
      abstract: "Promote a version (a lead confirming what a retraining proposed).",
      discussion: """
        The version's file must still match its registered SHA-256. The browser's predictions \
        switch to the version's; cases it has not predicted yet are filled by review in the \
        background or at once by: blastview predict --all-cases.
        """)
    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var rater: RaterOption
    @Argument(help: ArgumentHelp("The version (2 or v2).", valueName: "version")) var version: String
    @Option(name: .long, help: ArgumentHelp("Why (kept with the promotion).", valueName: "text"))
    var reason: String?
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
      let store = try ModelCommand.openRegistry(workspace)
      let v = try ModelCommand.parseVersion(version)
      try ModelCommand.switchTo(
        v, store: store, rater: rater.rater, workspace: workspace, json: json,
        reason: { by in reason ?? "promoted by \(by) on the command line" }, verb: "Promoted")
    }
  }

  struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "rollback",
      abstract: "Promote the version before the promoted one (its parent, else the one promoted before it).")
    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var rater: RaterOption
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
      let store = try ModelCommand.openRegistry(workspace)
      let current: ModelVersion?
      let target: Int64?
      do {
        current = try store.promotedModel()
        target = try store.rollbackTarget()
      } catch {
        throw CLIError(error)
      }
      guard let current else { throw CLIError(message: "no model is promoted: nothing to roll back") }
      guard let target else {
        throw CLIError(message: "v\(current.version) has no earlier version to roll back to")
      }
      try ModelCommand.switchTo(
        target, store: store, rater: rater.rater, workspace: workspace, json: json,
        reason: { by in "rolled back from v\(current.version) by \(by) on the command line" },
        verb: "Rolled back to")
    }
  }

  struct Gate: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "gate",
      abstract: "Show or set what a retrained model needs to be promoted.",
      discussion: """
        A retrained model passes the validation gate when it is not worse than the promoted \
        model (macro-F1 and Dice within 0.01, loss within 5%). It is promoted only when its \
        figures rest on at least --min-labelled labelled validation cases (and, when \
        segmentation was retrained, --min-masked cases with a mask; none at all never passes) \
        and automatic promotion is on; otherwise it is proposed and a lead promotes it with \
        `blastview model promote VERSION`. Defaults: 20, 10, off.
        """)
    @OptionGroup var workspace: WorkspaceOptions
    @Option(name: .long, help: ArgumentHelp("on or off.", valueName: "on|off")) var autoPromote: String?
    @Option(name: .long, help: ArgumentHelp("Labelled validation cases needed.", valueName: "n"))
    var minLabelled: Int?
    @Option(name: .long, help: ArgumentHelp("Validation cases with a mask needed.", valueName: "n"))
    var minMasked: Int?
    @Flag(name: .long, help: "Print JSON.") var json = false

    func validate() throws {
      if let a = autoPromote, a != "on" && a != "off" {
        throw ValidationError("--auto-promote is on or off, not \(Sanitizer.sanitize(a))")
      }
      for (name, n) in [("--min-labelled", minLabelled), ("--min-masked", minMasked)] {
        if let n, !(1...1_000_000).contains(n) {
          throw ValidationError("\(name) must be between 1 and 1000000, got \(n)")
        }
      }
    }

    func run() throws {
      let store = try ModelCommand.openRegistry(workspace)
      do {
        if let a = autoPromote { try store.setRetrainingSetting(GateSettings.autoPromoteSetting, a) }
        if let n = minLabelled {
          try store.setRetrainingSetting(GateSettings.minimumLabelledSetting, String(n))
        }
        if let n = minMasked { try store.setRetrainingSetting(GateSettings.minimumMaskedSetting, String(n)) }
      } catch {
        throw CLIError(error)
      }
      let g = GateSettings.resolve(store: store)
      if json {
        try JSONOutput.print(g)
        return
      }
      print(
        "Gate: at least \(g.minimumLabelled) labelled validation cases, \(g.minimumMasked) with a mask when "
          + "segmentation is retrained; automatic promotion \(g.autoPromote ? "on" : "off (a lead promotes)")"
      )
    }
  }

  /// Promotes `version` for the acting rater and says what changed.
  static func switchTo(
    _ version: Int64, store: any ModelRegistryStore, rater: String?, workspace: WorkspaceOptions, json: Bool,
    reason: (String) -> String, verb: String
  ) throws {
    let before: ModelVersion?
    let coverage: (predicted: Int, total: Int)
    let by: String
    do {
      by = try store.actingRater(claimed: rater)
      before = try store.promotedModel()
      if before?.version == version {
        throw CLIError(message: "v\(version) is already the promoted model")
      }
      try store.promote(version: version, by: by, reason: reason(by))
      coverage = try store.predictionCoverage(model: version)
    } catch let e as CLIError {
      throw e
    } catch {
      throw CLIError(error)
    }
    if json {
      JSONOutput.object([
        ("promoted", .int(Int(version))), ("previous", before.map { .int(Int($0.version)) } ?? .null),
        ("by", .string(by)), ("predicted", .int(coverage.predicted)), ("cases", .int(coverage.total)),
      ]).print()
      return
    }
    print(
      "\(verb) v\(version)" + (before.map { " (was v\($0.version))" } ?? "")
        + " by \(Sanitizer.sanitize(by)); "
        + "it has predictions for \(coverage.predicted) of \(coverage.total) cases")
    if coverage.predicted < coverage.total {
      print(
        "Next: blastview predict --all-cases --workspace \(Sanitizer.sanitize(shellWord(workspace.resolved.directory)))"
          + "   (or review fills them in the background)")
    }
  }

  static func parseVersion(_ text: String) throws -> Int64 {
    let digits = text.hasPrefix("v") || text.hasPrefix("V") ? String(text.dropFirst()) : text
    guard let v = Int64(digits), v > 0 else {
      throw CLIError(message: "a model version is a number such as 2 or v2, not \(text)")
    }
    return v
  }
}
