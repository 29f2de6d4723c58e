import Foundation
import TestSupport
import Testing

/// The terminal is restored on every exit path (issue 7): the binary runs in tmux under a
/// shell that afterwards prints its exit status and the terminal modes; tmux's own flags tell
/// whether the alternate screen, the hidden cursor and mouse reporting were undone.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux")))
struct TerminalLifecycleTests {
  enum Ending {
    case quitKey, controlC
    case signal(String)
    case crash
  }

  /// Starts show-image in tmux, ends it the given way, and returns the session.
  func run(_ ending: Ending, graphics: String = "blocks") throws -> TmuxSession {
    var extra = ""
    var prefix = ""
    if case .crash = ending {
      extra = " --crash-after-first-frame"
      // Swift's backtracer would symbolicate for many seconds; the message is what matters.
      prefix = "SWIFT_BACKTRACE=enable=no "
    }
    // The shell stays alive afterwards so tmux reports the pane's modes as the program left them.
    let command =
      "sh -c '\(prefix)\(EndToEnd.binary!) show-image --patterns 5 --graphics \(graphics)\(extra); echo EXIT=$?; stty -a | tr \" \" \"\\n\" | grep -x -e icanon -e -icanon -e echo -e -echo | tr \"\\n\" \" \"; echo; echo DONE; sleep 60'"
    let tmux = try #require(TmuxSession(columns: 100, rows: 30, command: command))
    if case .crash = ending {
    } else {
      #expect(tmux.waitFor("show-image ·"), "the UI did not start")
      #expect(tmux.display("#{alternate_on}") == "1")
      #expect(tmux.display("#{mouse_sgr_flag}") == "1")
    }
    switch ending {
    case .quitKey: tmux.send("q")
    case .controlC: tmux.send("C-c")
    case .signal(let name):
      let shell = try #require(tmux.panePID)
      let child = EndToEnd.run(["ps", "--ppid", "\(shell)", "-o", "pid=,comm="]).output
        .split(separator: "\n").first { $0.contains("blastview") }
        .flatMap { Int32($0.split(separator: " ").first ?? "") }
      kill(try #require(child), signalNumber(name))
    case .crash: break
    }
    #expect(tmux.waitFor("DONE", seconds: 20), "the shell did not continue after blastview ended")
    return tmux
  }

  func signalNumber(_ name: String) -> Int32 {
    switch name {
    case "TERM": return SIGTERM
    case "HUP": return SIGHUP
    case "INT": return SIGINT
    default: return SIGQUIT
    }
  }

  func expectSane(_ tmux: TmuxSession, exit: String) {
    let screen = tmux.capture(history: true)
    #expect(screen.contains("EXIT=\(exit)"), "\(screen)")
    #expect(screen.contains("icanon echo"), "terminal modes not restored: \(screen)")
    #expect(tmux.display("#{alternate_on}") == "0", "still on the alternate screen")
    #expect(tmux.display("#{cursor_flag}") == "1", "cursor still hidden")
    #expect(tmux.display("#{mouse_any_flag}") == "0", "mouse reporting still on")
    #expect(tmux.display("#{mouse_sgr_flag}") == "0", "SGR mouse still on")
  }

  @Test func quitKey() throws { expectSane(try run(.quitKey), exit: "0") }

  @Test func controlC() throws { expectSane(try run(.controlC), exit: "0") }

  @Test func sigterm() throws { expectSane(try run(.signal("TERM")), exit: "143") }

  @Test func sighup() throws { expectSane(try run(.signal("HUP")), exit: "129") }

  @Test func sigint() throws { expectSane(try run(.signal("INT")), exit: "130") }

  @Test func swiftRuntimeError() throws {
    let tmux = try run(.crash)
    let screen = tmux.capture(history: true)
    // Died by SIGILL (128 + 4), and the runtime's message is readable after the restore.
    #expect(screen.contains("EXIT=132"), "\(screen)")
    #expect(screen.contains("Fatal error: Index out of range"))
    #expect(screen.contains("icanon echo"))
    #expect(tmux.display("#{alternate_on}") == "0")
    #expect(tmux.display("#{cursor_flag}") == "1")
  }

  @Test func halfBlocksDrawInTmux() throws {
    let command = "\(EndToEnd.binary!) show-image --patterns 2 --graphics blocks"
    let tmux = try #require(TmuxSession(columns: 100, rows: 30, command: command))
    #expect(tmux.waitFor("pattern 2"))
    let screen = tmux.capture()
    #expect(screen.split(separator: "\n").filter { $0.hasPrefix("▀▀▀▀▀▀▀▀▀▀") }.count >= 8)
    // The colours are really there: capture with escapes shows 256-colour SGR.
    let coloured = EndToEnd.run(["tmux", "-L", tmux.socket, "capture-pane", "-e", "-p", "-t", tmux.name])
      .output
    #expect(coloured.contains("38;5;"))
    tmux.send("q")
  }
}

/// Hostile file names (issue 7): a name carrying an OSC title sequence and one carrying a
/// clear-screen sequence are shown sanitised, and neither retitles the pane nor clears it.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux")))
struct HostileTextTests {
  @Test func escapeSequencesInFileNamesNeverReachTheTerminal() throws {
    let dir = EndToEnd.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let sample = repository.appendingPathComponent("SampleData/bccd/JPEGImages/BloodImage_00000.jpg")
    let image = try Data(contentsOf: sample)
    for name in ["\u{1B}]0;pwned\u{07}.jpg", "\u{1B}[2J.jpg"] {
      try image.write(to: dir.appendingPathComponent(name))
    }
    let command =
      "cd \(EndToEnd.shellQuote(dir.path)) && \(EndToEnd.shellQuote(EndToEnd.binary!)) show-image --graphics none ./*.jpg"
    let tmux = try #require(
      TmuxSession(columns: 100, rows: 30, command: "sh -c \(EndToEnd.shellQuote(command))"))
    #expect(tmux.waitFor("2 images"))
    let screen = tmux.capture()
    #expect(screen.contains("\u{FFFD}.jpg"))
    #expect(!screen.contains("pwned"))
    #expect(screen.contains("show-image ·"), "the header survived: the screen was not cleared")
    #expect(tmux.display("#{pane_title}") != "pwned")
    tmux.send("q")
  }
}
