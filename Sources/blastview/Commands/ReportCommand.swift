import Agreement
import ArgumentParser
import CaseStore
import FileSafety
import Foundation
import Terminal
import Workflows

/// `blastview report`: a session's study report for a lead (issue 18, item 11): one HTML page
/// to read and keep, and the same numbers as JSON.
struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Write a session's study report: a self-contained HTML page and the same numbers as JSON.",
    discussion: """
      Writes DIR/report.html (one file: plots inline, no script, no link, nothing fetched) and \
      DIR/report.json. The report has the raters and their progress, the kappa family with \
      95% CIs as a forest plot, confusion matrices as heatmaps, agreement per class, revisions \
      after unblinding, mask agreement, the promoted model against the consensus, the \
      adjudications, and the audit chain's head hash at the time (the data it was computed \
      from). report.json's "agreement" is exactly what `blastview agree --session NAME --json` \
      prints with the same --rater, --weights, --bootstrap and --seed. Files are replaced \
      atomically; a file name that is a symbolic link is refused. On a shared workspace the \
      report is read as the connected role (the server blinds) and the audit head is the \
      database's.
      """)

  @OptionGroup var workspace: WorkspaceOptions
  @OptionGroup var reader: RaterOption

  @Option(name: .long, help: ArgumentHelp("The agreement session.", valueName: "name"))
  var session: String

  @Option(name: .long, help: ArgumentHelp("Output directory (created if needed).", valueName: "dir"))
  var out: String

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Weighted kappa as in `agree`: none, linear, quadratic, clinical, a CSV file, or auto "
        + "(clinical for the all4 classes, else none).", valueName: "weights"))
  var weights: String = "auto"

  @Option(name: .long, help: "Percentile bootstrap resamples for a 95% CI (0 = none).")
  var bootstrap: Int = 0

  @Option(name: .long, help: "Seed of the bootstrap's random resamples.")
  var seed: UInt64 = 1

  @Flag(name: .long, help: "Print what was written as JSON.")
  var json = false

  func validate() throws {
    guard (0...1_000_000).contains(bootstrap) else {
      throw ValidationError("--bootstrap must be between 0 and 1000000, got \(bootstrap)")
    }
  }

  func run() throws {
    // Either backend: a shared workspace reads as the connected role (the server blinds), and
    // its audit head is the one the database recomputes.
    let store: any ExportSource & SessionAgreementSource
    let viewer: Viewer
    if let shared = try workspace.openShared() {
      do { viewer = Viewer(rater: try shared.actingRater(claimed: reader.rater)) } catch {
        throw CLIError(error)
      }
      store = shared
    } else {
      store = try workspace.open()
      viewer = Viewer(rater: reader.name)
    }
    let categories = store.labelSchema.classNames
    let resolved =
      weights == "auto"
      ? SessionAgreementOptions.dashboardWeights(categories: categories)
      : try AgreeCommand.resolveWeights(weights, categories: categories)
    let options = SessionAgreementOptions(
      categories: categories, weights: resolved, bootstrapSamples: bootstrap, seed: seed)
    let report: SessionAgreementReport
    do {
      report = try SessionAgreementReport.compute(
        store: store, session: session, viewer: viewer, options: options)
    } catch {
      switch error {
      case .store(let e): throw CLIError(e)
      case .input(let m): throw AgreeInputError(message: m)
      }
    }
    var adjudications: [Adjudication] = []
    let audit: AuditChain.Verification
    do {
      for id in try store.caseIDs(session: session) {
        if let last = try store.caseDetail(id: id, viewer: viewer).adjudication { adjudications.append(last) }
      }
      audit = try store.verifyAuditChain()
    } catch {
      throw CLIError(error)
    }
    let study = StudyReport(
      report: report, weightsName: resolved?.name, adjudications: adjudications, audit: audit,
      generatedAt: CaseStore.timestamp(Date()), workspace: workspace.resolved.directory)
    let labelOptions = AgreementOptions(weights: resolved, bootstrapSamples: bootstrap, seed: seed)
    let document = StudyReportJSON.json(
      study, agreement: AgreeSessionReport.json(report, options: labelOptions))

    let dir = Workspace(directory: out).directory
    let html = dir + "/report.html"
    let jsonPath = dir + "/report.json"
    do {
      try SafeFile.makeDirectories(dir)
      try SafeFile.write(Array(document.render().utf8) + [0x0A], to: jsonPath)
      try SafeFile.write(Array(StudyReportHTML.render(study).utf8), to: html)
    } catch {
      throw CLIError(message: "cannot write the report: \(error)")
    }
    if json {
      print(
        JSONOutput.object([
          ("html", .string(html)), ("json", .string(jsonPath)), ("audit_head", .string(audit.head)),
        ]).render())
      return
    }
    print("Wrote the study report of session \(Sanitizer.sanitize(session)): \(Sanitizer.sanitize(html))")
    print("The same numbers as JSON: \(Sanitizer.sanitize(jsonPath))")
    print("Computed from the data up to audit-chain head \(audit.head) (\(audit.links) links)")
  }
}

/// `report.json`: the `agree --session --json` object under `agreement`, and what the report
/// adds (progress, adjudications, the audit chain's head).
enum StudyReportJSON {
  static func json(_ s: StudyReport, agreement: JSONOutput) -> JSONOutput {
    let info = s.report.session
    let progress: [JSONOutput] = info.raters.map { name in
      .object([
        ("rater", .string(name)), ("labelled", .int(info.labelled[name] ?? 0)),
        ("cases", .int(info.caseCount)),
      ])
    }
    let adjudications: [JSONOutput] = s.adjudications.map { a in
      .object([
        ("case", .int(Int(a.caseID))), ("label", .string(a.label)), ("adjudicator", .string(a.adjudicator)),
        ("reason", .string(a.reason)), ("created_at", .string(CaseStore.timestamp(a.createdAt))),
        ("session", a.session.map { .string($0) } ?? .null), ("has_mask", .bool(a.maskID != nil)),
      ])
    }
    return .object([
      ("format", .string("blastview-study-report-1")), ("session", .string(info.name)),
      ("generated_at", .string(s.generatedAt)), ("read_as", s.report.readAs.map { .string($0) } ?? .null),
      ("weights", s.weightsName.map { .string($0) } ?? .null),
      ("progress", .array(progress)),
      ("agreement", agreement),
      ("adjudications", .array(adjudications)),
      (
        "audit_chain",
        .object([
          ("head", .string(s.audit.head)), ("links", .int(s.audit.links)), ("ok", .bool(s.audit.ok)),
          ("first_break", s.audit.firstBreak.map { .string($0.description) } ?? .null),
        ])
      ),
    ])
  }
}
