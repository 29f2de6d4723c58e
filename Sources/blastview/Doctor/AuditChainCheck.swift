import CaseStore
import Foundation

extension Doctor {
  /// The audit chain of the workspace's database, recomputed (as `blastview verify` does);
  /// nil when there is no workspace database to check.
  static func checkAuditChain(_ ws: DoctorReport.Workspace) -> DoctorReport.Check? {
    guard ws.exists, ws.isDirectory,
      FileManager.default.fileExists(atPath: ws.path + "/" + Workspace.databaseFileName)
    else { return nil }
    do {
      let store = try Workspace.open(path: ws.path)
      defer { try? store.close() }
      let v = try store.verifyAuditChain()
      if let b = v.firstBreak {
        return .init(
          name: "audit chain", status: .error, detail: "broken at \(b.table) \(b.id): \(b.problem)",
          fix: "the database was changed outside BlastView; restore a backup made before the change "
            + "(`blastview verify` names the link)")
      }
      return .init(name: "audit chain", status: .ok, detail: "\(v.links) link(s) intact, head \(v.head)")
    } catch {
      return .init(
        name: "audit chain", status: .error, detail: "the workspace could not be checked: \(error)",
        fix: "run `blastview verify --workspace \(ws.path)` for details")
    }
  }
}
