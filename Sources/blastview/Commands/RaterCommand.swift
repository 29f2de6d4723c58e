import ArgumentParser
import CaseStore
import Foundation
import Terminal

/// `blastview rater ...`: the workspace's raters and their roles. Only raters with the
/// adjudicator role may record adjudications (issue 8); this is how one gets the role.
struct RaterCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rater",
    abstract: "List raters, add one, or change a rater's role (rater or adjudicator).",
    discussion: """
      Raters are created when they first label (their name defaults to the Unix user) with \
      the role rater. Only adjudicators may record final labels (blastview adjudicate, or \
      the triage screen of blastview review). Anyone who can write the workspace can change \
      roles: the workspace's file permissions are its access control.
      """,
    subcommands: [RaterListCommand.self, RaterAddCommand.self, RaterSetRoleCommand.self])
}

extension RaterRole: ExpressibleByArgument {}

struct RaterListCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "List the raters and their roles.")

  @OptionGroup var workspace: WorkspaceOptions

  @Flag(name: .long, help: "Print JSON.")
  var json = false

  func run() throws {
    let store = try workspace.open()
    let raters: [Rater]
    do { raters = try store.raters() } catch { throw CLIError(error) }
    if json {
      try JSONOutput.print(raters)
      return
    }
    if raters.isEmpty { print("No raters yet.") }
    for r in raters { print("\(Sanitizer.sanitize(r.name))  \(r.role.rawValue)") }
  }
}

struct RaterAddCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "add", abstract: "Add a rater (by default with the role rater).")

  @OptionGroup var workspace: WorkspaceOptions

  @Argument(help: ArgumentHelp("The rater's name.", valueName: "name"))
  var name: String

  @Option(name: .long, help: "rater or adjudicator.")
  var role: RaterRole = .rater

  func run() throws {
    let store = try workspace.open()
    do {
      if let existing = try store.rater(named: name) {
        guard existing.role == role else {
          throw CLIError(
            message:
              "rater \(name) already exists with the role \(existing.role.rawValue); change it with: "
              + "blastview rater set-role \(name) \(role.rawValue)")
        }
        print("Rater \(Sanitizer.sanitize(name)) already exists with the role \(role.rawValue)")
        return
      }
      _ = try store.ensureRater(name)
      let r = try store.setRole(role, for: name)
      print("Added rater \(Sanitizer.sanitize(r.name)) with the role \(r.role.rawValue)")
    } catch let e as CLIError {
      throw e
    } catch {
      throw CLIError(error)
    }
  }
}

struct RaterSetRoleCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "set-role",
    abstract: "Give a rater a role: adjudicator (may record final labels) or rater.")

  @OptionGroup var workspace: WorkspaceOptions

  @Argument(help: ArgumentHelp("The rater's name.", valueName: "name"))
  var name: String

  @Argument(help: ArgumentHelp("rater or adjudicator.", valueName: "role"))
  var role: RaterRole

  func run() throws {
    let store = try workspace.open()
    do {
      let before = try store.rater(named: name)?.role
      let r = try store.setRole(role, for: name)
      let was = before.map { "was \($0.rawValue)" } ?? "new rater"
      print("Rater \(Sanitizer.sanitize(r.name)) now has the role \(r.role.rawValue) (\(was))")
    } catch {
      throw CLIError(error)
    }
  }
}
