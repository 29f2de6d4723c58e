import ArgumentParser
import CaseStore
import Foundation
import Review
import Terminal

/// `blastview review`: the terminal UI (issue 7), on an embedded or a shared workspace (on a
/// shared one the rater is the database connection's role, issue 16).
struct ReviewCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "review",
    abstract: "Review cases in the terminal: browse thumbnails, open a case, label it.")

  @OptionGroup var workspace: WorkspaceOptions
  @OptionGroup var raterOption: RaterOption

  @Option(help: "Work inside this agreement session (its cases, its blinding).")
  var session: String?

  @Option(help: "Graphics: auto, sixel, blocks or none (default: $BLASTVIEW_GRAPHICS, else auto).")
  var graphics: String?

  @Option(
    help:
      "Colour theme: auto (dark or light by the terminal's background), dark, light, high-contrast, colorblind, or a file name in $BLASTVIEW_THEMES."
  )
  var theme: String = "auto"

  @Option(
    help: ArgumentHelp(
      "Thumbnail width in the browser, in terminal columns (19 to 49; + and - change it).",
      valueName: "columns"))
  var thumbSize: Int?

  func validate() throws {
    if let t = thumbSize, !(19...49).contains(t) {
      throw ValidationError("--thumb-size \(t): give a width from 19 to 49 columns")
    }
  }

  func run() throws {
    let choice = try GraphicsChoice.resolve(flag: graphics, environment: ProcessInfo.processInfo.environment)
    let store: any ReviewStore = try workspace.openShared() ?? workspace.open()
    let rater: String
    do { rater = try store.actingRater(claimed: raterOption.rater) } catch { throw CLIError(error) }
    let environment = GraphicsEnvironment.detect()
    let theme = try Theme.named(theme, background: environment.background)
    let backend = GraphicsBackend.select(choice, environment: environment)
    let app: ReviewApp
    do {
      app = try ReviewApp(
        store: store, rater: rater, session: session, rows: 24, columns: 80,
        graphics: backend.drawsImages)
    } catch {
      throw CLIError(error)
    }
    // Cases the promoted model has not predicted get predictions from a background process.
    app.backgroundPredictions = true
    if let thumbSize { app.setThumbnailWidth(thumbSize + 1) }
    try app.runInteractive(theme: theme, backend: backend, environment: environment)
  }
}
