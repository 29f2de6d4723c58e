import Agreement
import ArgumentParser
import CaseStore
import Foundation
import Terminal

// The parts of commands that differ on a shared (PostgreSQL) workspace, where the database
// knows who is connected and leads exist. Commands that need only `WorkspaceStore` (import,
// annotate, labels import, session) use one code path for both backends.

extension RaterListCommand {
  func runShared(_ store: PostgresStore) throws {
    let raters: [WorkspaceRater]
    do { raters = try store.workspaceRaters() } catch { throw CLIError(error) }
    if json {
      try JSONOutput.print(raters)
      return
    }
    if raters.isEmpty { print("No raters yet.") }
    for r in raters { print("\(Sanitizer.sanitize(r.name))  \(r.role?.rawValue ?? "no role")") }
  }
}

extension RaterAddCommand {
  func runShared(_ store: PostgresStore) throws { try Self.addShared(store, name, role) }

  /// Creates the PostgreSQL role if it is new and gives it the group role; the server
  /// refuses anyone but a lead (or the service role).
  static func addShared(_ store: PostgresStore, _ name: String, _ role: WorkspaceRole) throws {
    let r: WorkspaceRater
    do { r = try store.addRater(name, role: role) } catch { throw CLIError(error) }
    print("Rater \(Sanitizer.sanitize(r.name)) has the role \(r.role?.rawValue ?? role.rawValue)")
  }
}

extension HistoryCommand {
  /// The case's annotations as the connected rater may see them (the server applies the
  /// blinding; adjudications are not kept in a shared workspace yet).
  func runShared(_ store: PostgresStore) throws {
    do {
      let me = try store.actingRater(claimed: rater.rater)
      let id = try store.resolveCase(caseRef)
      let viewer = Viewer.rater(me)
      let record = try store.caseRecord(id: id, viewer: viewer)
      let history = try store.history(case: id, viewer: viewer)
      if json {
        struct Out: Encodable {
          var caseRecord: CaseRecord
          var annotations: [Annotation]
        }
        try JSONOutput.print(Out(caseRecord: record, annotations: history))
        return
      }
      print(
        "Case \(id): \(Sanitizer.sanitize(record.path)) (\(record.width)×\(record.height), \(record.split.rawValue)"
          + (record.referenceLabel.map { ", reference \(Sanitizer.sanitize($0))" } ?? "") + ")")
      if history.isEmpty { print("  no annotations") }
      let time = ISO8601DateFormatter()
      for a in history {
        let changed = [a.changed.contains(.label) ? "label" : nil, a.changed.contains(.mask) ? "mask" : nil]
          .compactMap { $0 }.joined(separator: "+")
        print(
          "  #\(a.id)  \(time.string(from: a.createdAt))  \(Sanitizer.sanitize(a.rater))  label=\(a.label.map { Sanitizer.sanitize($0) } ?? "-")"
            + "  mask=\(a.maskID == nil ? "no" : "yes")  changed=\(changed)"
            + (a.session.map { "  session=\(Sanitizer.sanitize($0))" } ?? "")
            + (a.supersedes.map { "  supersedes #\($0)" } ?? "")
            + (a.note.map { "  note: \(Sanitizer.sanitize($0))" } ?? ""))
      }
    } catch let e as CLIError {
      throw e
    } catch {
      throw CLIError(error)
    }
  }
}

extension AgreeCommand {
  /// The label statistics of a shared workspace's session, read as the connected rater (the
  /// server hides what the blinding hides): the same `AgreementReport` on the same labels as
  /// an embedded workspace, so the numbers are the same. Mask and model agreement are the
  /// embedded workspace's for now.
  func runSharedSession(_ store: PostgresStore, _ name: String, selected: [String]?) throws {
    let info: SessionInfo
    let rows: [RaterLabel]
    let me: String
    do {
      me = try store.actingRater(claimed: reader.rater)
      info = try store.session(named: name)
      rows = try store.currentLabels(session: name, viewer: .rater(me))
    } catch {
      throw CLIError(error)
    }
    let raters = selected ?? info.raters
    for r in raters where !info.raters.contains(r) {
      throw AgreeInputError(
        message:
          "rater '\(r)' is not in session '\(name)' (its raters: \(info.raters.joined(separator: ", ")))")
    }
    let order = try categories.map { try Self.categoryList($0) } ?? store.labelSchema.classNames
    let table: RatingTable
    do {
      table = try RatingTable(
        long: rows.map { LongRating(item: "case \($0.caseID)", rater: $0.rater, label: $0.label) },
        categories: order, raters: raters)
    } catch {
      throw AgreeInputError(message: "session '\(name)': \(error)")
    }
    let options = AgreementOptions(
      weights: try resolveWeights(order), bootstrapSamples: bootstrap, seed: seed)
    let report = AgreementReport(table, options: options)
    let visible = Set(rows.map(\.caseID)).count
    if json {
      print(AgreeReport.json(report, options: options).render())
      return
    }
    let source =
      "session \(name) in the shared workspace \(store.connection.displayTarget), read as \(me)"
      + (info.blinded ? " (blinded: a rater sees others' labels only on cases they labelled)" : "")
      + "; \(visible) of \(info.caseCount) cases have a visible label" + (info.isOpen ? "" : "; closed")
    print(AgreeReport.text(report, options: options, source: source), terminator: "")
  }
}
