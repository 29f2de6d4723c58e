import CaseStore
import Foundation
import Testing

/// The throwaway cluster `tools/with-test-postgres.sh` starts (`make test`, `.ci/run`):
/// Unix socket only, peer authentication, the service role `blastview`, and pg_ident letting
/// root (the test process) connect as the test roles too.
///
/// Without `BLASTVIEW_TEST_PG` the tests are skipped on a developer's machine, and fail
/// under `CI=true`: a CI run that silently skipped them would certify nothing.
struct PGTestCluster {
  let socket: String

  static let environment = ProcessInfo.processInfo.environment
  static var configured: Bool { environment["BLASTVIEW_TEST_PG"] == "1" }
  static var inCI: Bool { environment["CI"] == "true" }
  /// Run the PostgreSQL tests: configured, or in CI where their absence must fail.
  static var shouldRun: Bool { configured || inCI }

  struct Missing: Error, CustomStringConvertible {
    var description: String {
      "CI=true but BLASTVIEW_TEST_PG is not set: run the tests through tools/with-test-postgres.sh "
        + "(make test does), so the PostgreSQL tests run rather than silently pass"
    }
  }

  /// The cluster, or a thrown failure when it is missing.
  static func require() throws -> PGTestCluster {
    guard configured, let socket = environment["BLASTVIEW_TEST_PG_SOCKET"], !socket.isEmpty else {
      throw Missing()
    }
    return PGTestCluster(socket: socket)
  }

  /// The URL of `database` as `role` (root is mapped to it by pg_ident); nil role: the OS user.
  func url(_ database: String, as role: String? = nil) -> String {
    "postgresql:///\(database)?host=\(socket)" + (role.map { "&user=\($0)" } ?? "")
  }

  /// A fresh, empty database owned by the service role.
  func createDatabase() throws -> String {
    let name = "bvt_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    // An identifier cannot be a parameter; this one is generated from hex digits only.
    precondition(name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
    let c = try PGConnection(url("postgres", as: "blastview"))
    try c.query("CREATE DATABASE \(name)")
    return name
  }
}
