import CaseStore
import Foundation

extension Doctor {
  /// The audit chain of the workspace's database, recomputed (as `blastview verify` does):
  /// the SQLite file, or a shared workspace's PostgreSQL database (recomputed in the server);
  /// nil when there is no workspace to check.
  static func checkAuditChain(_ ws: DoctorReport.Workspace) -> DoctorReport.Check? {
    guard ws.exists, ws.isDirectory else { return nil }
    let shared = FileManager.default.fileExists(atPath: ws.path + "/" + SharedWorkspace.urlFileName)
    guard shared || FileManager.default.fileExists(atPath: ws.path + "/" + Workspace.databaseFileName)
    else { return nil }
    do {
      let v: AuditChain.Verification
      if shared, let url = try SharedWorkspace.databaseURL(in: ws.path) {
        v = try PostgresStore.open(url).verifyAuditChain()
      } else {
        let store = try Workspace.open(path: ws.path)
        defer { try? store.close() }
        v = try store.verifyAuditChain()
      }
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
