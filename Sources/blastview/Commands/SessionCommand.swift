import ArgumentParser
import CaseStore
import FileSafety
import Foundation
import Terminal

/// `blastview session ...`: agreement sessions.
struct SessionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "session",
    abstract: "Create, list and close agreement sessions.",
    subcommands: [SessionCreateCommand.self, SessionListCommand.self, SessionCloseCommand.self])
}

struct SessionCreateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "create",
    abstract: "Create an agreement session.",
    discussion: """
      --cases is all, split:train|val|test, class:NAME (the reference label from import), \
      first:N (the first N cases imported), random:N (N cases drawn at random; --seed S draws \
      the same cases again, from the same images), or a file with one case (id, image path or \
      SHA-256 prefix) per line. With --blind, each \
      rater sees no other rater's annotation of a case until they have labelled it in this \
      session; with --hide-model they see no prediction until then either. The store enforces \
      both in its queries.
      """)

  @OptionGroup var workspace: WorkspaceOptions

  @Argument(help: ArgumentHelp("The session's name.", valueName: "name"))
  var name: String

  @Option(name: .long, help: ArgumentHelp("The raters, comma-separated.", valueName: "a,b[,c]"))
  var raters: String

  @Option(
    name: .long,
    help: ArgumentHelp(
      "all, split:NAME, class:NAME, first:N, random:N or a file of cases.", valueName: "cases"))
  var cases: String

  @Option(
    name: .long,
    help: ArgumentHelp("The seed of --cases random:N (default: the session's name).", valueName: "seed"))
  var seed: String?

  @Flag(name: .long, help: "Hide other raters' annotations until a rater has labelled the case.")
  var blind = false

  @Flag(name: .long, help: "Hide the model's predictions until a rater has labelled the case.")
  var hideModel = false

  @Option(
    name: .long,
    help: ArgumentHelp("The session's creator, who may close it (default: the Unix user).", valueName: "name")
  )
  var createdBy: String?

  @Flag(name: .long, help: "Print JSON.")
  var json = false

  func run() throws {
    let store = try workspace.openStore()
    do {
      let selection = try parseCases(store)
      let list = raters.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
        !$0.isEmpty
      }
      let info = try store.createSession(
        name: name, raters: list, cases: selection, blinded: blind, hideModel: hideModel,
        createdBy: try store.actingRater(claimed: createdBy))
      if json {
        try JSONOutput.print(info)
        return
      }
      print(
        "Created session \(Sanitizer.sanitize(info.name)): \(CLIText.count(info.caseCount)) case(s), raters "
          + info.raters.map(Sanitizer.sanitize(_:)).joined(separator: ", ")
          + (info.blinded ? ", blinded" : "") + (info.hideModel ? ", model hidden" : ""))
    } catch let e as CLIError {
      throw e
    } catch {
      throw CLIError(error)
    }
  }

  private func parseCases(_ store: any WorkspaceStore) throws -> CaseSelection {
    if seed != nil && !cases.hasPrefix("random:") {
      throw CLIError(message: "--seed is for --cases random:N; \(cases) takes no seed")
    }
    if cases == "all" { return .all }
    if cases.hasPrefix("split:") {
      let s = String(cases.dropFirst(6))
      guard let split = Split(rawValue: s) else {
        throw CLIError(message: "unknown split \"\(s)\" (train, val or test)")
      }
      return .split(split)
    }
    if cases.hasPrefix("class:") { return .referenceClass(String(cases.dropFirst(6))) }
    for prefix in ["first:", "random:"] where cases.hasPrefix(prefix) {
      let text = String(cases.dropFirst(prefix.count))
      guard let n = Int(text), n > 0 else {
        throw CLIError(
          message: "--cases \(cases): \(prefix)N needs a whole number of cases above 0, not \"\(text)\"")
      }
      return prefix == "first:" ? .first(n) : .random(n, seed: seed ?? name)
    }

    guard let data = try? Data(SafeFile.read(cases, maxBytes: 64 << 20)) else {
      throw CLIError(message: "--cases \(cases): not all, split:NAME, class:NAME or a readable file")
    }
    var ids: [Int64] = []
    for (i, line) in String(decoding: data, as: UTF8.self).split(
      separator: "\n", omittingEmptySubsequences: false
    ).enumerated() {
      let t = line.trimmingCharacters(in: .whitespacesAndNewlines)
      if t.isEmpty || t.hasPrefix("#") { continue }
      do { ids.append(try store.resolveCase(t)) } catch {
        throw CLIError(message: "\(cases): line \(i + 1): \(error.description)")
      }
    }
    return .ids(ids)
  }
}

struct SessionListCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "List sessions and their progress.")

  @OptionGroup var workspace: WorkspaceOptions

  @Flag(name: .long, help: "Print JSON.")
  var json = false

  func run() throws {
    let store = try workspace.openStore()
    let sessions: [SessionInfo]
    do { sessions = try store.sessions() } catch { throw CLIError(error) }
    if json {
      try JSONOutput.print(sessions)
      return
    }
    if sessions.isEmpty { print("No sessions.") }
    for s in sessions {
      let flags = [
        s.isOpen ? "open" : "closed", s.blinded ? "blinded" : nil, s.hideModel ? "model hidden" : nil,
      ]
      .compactMap { $0 }.joined(separator: ", ")
      let progress = s.raters.map { "\(Sanitizer.sanitize($0)) \(s.labelled[$0] ?? 0)/\(s.caseCount)" }
        .joined(
          separator: ", ")
      print(
        "\(Sanitizer.sanitize(s.name))  [\(flags)]  \(CLIText.count(s.caseCount)) cases (\(Sanitizer.sanitize(s.caseSelection)))  "
          + "created by \(Sanitizer.sanitize(s.createdBy))  labelled: \(progress)")
    }
  }
}

struct SessionCloseCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "close",
    abstract: "Close a session: it becomes read-only and its blinding ends (creator only).")

  @OptionGroup var workspace: WorkspaceOptions
  @OptionGroup var rater: RaterOption

  @Argument(help: ArgumentHelp("The session's name.", valueName: "name"))
  var name: String

  func run() throws {
    let store = try workspace.openStore()
    do { try store.closeSession(name, by: try store.actingRater(claimed: rater.rater)) } catch {
      throw CLIError(error)
    }
    print("Closed session \(Sanitizer.sanitize(name))")
  }
}
