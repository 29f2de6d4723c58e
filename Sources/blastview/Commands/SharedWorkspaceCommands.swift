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
