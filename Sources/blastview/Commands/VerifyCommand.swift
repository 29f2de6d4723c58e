import ArgumentParser
import CaseStore
import Foundation
import Terminal

/// `blastview verify`: recomputes the audit chain and names the first broken link.
struct VerifyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "verify",
    abstract: "Recompute the audit chain of annotations, adjudications, promotions and session events.",
    discussion: """
      Every annotation, adjudication, model promotion and session or role event is sealed into \
      one SHA-256 chain when it is recorded (docs/casestore.md gives the encoding). verify \
      recomputes the chain from the rows as they are now and names the first broken link: a row \
      changed or removed since it was sealed, a rewritten link, or a row written around BlastView. \
      It prints the head hash: cite it with a published result so a later rewrite of the whole \
      chain is detectable too. Exits with status 1 when the chain is broken. On a shared \
      (PostgreSQL) workspace the server recomputes the chain; only the service role is told \
      the values of a changed field.
      """)

  @OptionGroup var workspace: WorkspaceOptions
  @Flag(help: "Print JSON.") var json = false

  func run() throws {
    let result: AuditChain.Verification
    if let shared = try workspace.openShared() {
      // Recomputed in the server, as whoever is connected (a rater is told where, not what).
      do { result = try shared.verifyAuditChain() } catch { throw CLIError(error) }
    } else {
      let store = try workspace.open()
      do { result = try store.verifyAuditChain() } catch { throw CLIError(error) }
    }
    if json {
      try JSONOutput.print(result)
    } else if let b = result.firstBreak {
      print(Sanitizer.sanitize("audit chain BROKEN at \(b.table) \(b.id): \(b.problem)"))
      print("  links before the break: \(CLIText.count(result.links - 1)); head before it: \(result.head)")
    } else {
      print("audit chain intact: \(CLIText.count(result.links)) link(s), head \(result.head)")
    }
    if !result.ok { throw ExitCode(1) }
  }
}
