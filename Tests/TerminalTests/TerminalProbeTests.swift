import Foundation
import Testing

@testable import Terminal

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

// glibc declares these only under _XOPEN_SOURCE, which Swift's Glibc module does not set.
@_silgen_name("posix_openpt") private func c_posix_openpt(_ flags: Int32) -> Int32
@_silgen_name("grantpt") private func c_grantpt(_ fd: Int32) -> Int32
@_silgen_name("unlockpt") private func c_unlockpt(_ fd: Int32) -> Int32
@_silgen_name("ptsname_r") private func c_ptsname_r(
  _ fd: Int32, _ buf: UnsafeMutablePointer<CChar>, _ len: Int
) -> Int32

/// A pseudo-terminal pair: the probe talks to `follower` as if it were /dev/tty, and the
/// test plays the terminal on `leader`.
private struct PTY {
  let leader: Int32
  let follower: Int32

  init() throws {
    let leader = c_posix_openpt(O_RDWR | O_NOCTTY)
    var name = [CChar](repeating: 0, count: 128)
    guard leader >= 0, c_grantpt(leader) == 0, c_unlockpt(leader) == 0,
      c_ptsname_r(leader, &name, name.count) == 0
    else { throw PTYError() }
    let follower = open(name, O_RDWR | O_NOCTTY)
    guard follower >= 0 else { throw PTYError() }
    self.leader = leader
    self.follower = follower
  }

  func close() {
    _ = Glibc.close(leader)
    _ = Glibc.close(follower)
  }

  func localFlags() -> tcflag_t {
    var t = termios()
    _ = tcgetattr(follower, &t)
    return t.c_lflag
  }
}

private struct PTYError: Error {}

/// Plays a terminal on the leader side, on its own thread (not the test's cooperative pool,
/// which the blocking probe may be holding): waits for `ESC [ c`, then writes `answer`.
private final class FakeTerminal: @unchecked Sendable {
  private let done = DispatchSemaphore(value: 0)
  private(set) var seen: [UInt8] = []

  init(leader: Int32, answer: [UInt8]) {
    let thread = Thread { [self] in
      var chunk = [UInt8](repeating: 0, count: 64)
      for _ in 0..<500 {
        var pfd = pollfd(fd: leader, events: Int16(POLLIN), revents: 0)
        if poll(&pfd, 1, 10) > 0 {
          let n = chunk.withUnsafeMutableBytes { read(leader, $0.baseAddress!, $0.count) }
          if n > 0 { seen += chunk[0..<n] }
        }
        if seen.count >= 3 && Array(seen.suffix(3)) == [0x1B, 0x5B, 0x63] { break }
      }
      _ = answer.withUnsafeBytes { write(leader, $0.baseAddress!, $0.count) }
      done.signal()
    }
    thread.start()
  }

  /// What the probe sent, once the fake terminal has answered.
  func waitForQuery() -> [UInt8] {
    done.wait()
    return seen
  }
}

@Test func xtermVT340AnswerMeansSixel() throws {
  // The answer measured from `xterm -ti vt340` (DESIGN §8).
  let pty = try PTY()
  defer { pty.close() }
  let before = pty.localFlags()
  let terminal = FakeTerminal(leader: pty.leader, answer: Array("\u{1B}[?63;1;2;4;6;9;15;16;22;28c".utf8))
  let attributes = TerminalProbe.queryDeviceAttributes(fd: pty.follower, timeoutMilliseconds: 5000)
  #expect(terminal.waitForQuery() == [0x1B, 0x5B, 0x63])
  #expect(attributes == [63, 1, 2, 4, 6, 9, 15, 16, 22, 28])
  #expect(pty.localFlags() == before, "terminal modes restored")
}

@Test func tmuxAnswerHasNoSixel() throws {
  // tmux 3.3a answers CSI c itself, without 4.
  let pty = try PTY()
  defer { pty.close() }
  let terminal = FakeTerminal(leader: pty.leader, answer: Array("\u{1B}[?1;2c".utf8))
  let attributes = TerminalProbe.queryDeviceAttributes(fd: pty.follower, timeoutMilliseconds: 5000)
  _ = terminal.waitForQuery()
  #expect(attributes == [1, 2])
  #expect(attributes?.contains(4) == false)
}

@Test func silentTerminalTimesOutAndRestoresModes() throws {
  let pty = try PTY()
  defer { pty.close() }
  let before = pty.localFlags()
  #expect(before & tcflag_t(ICANON) != 0)
  var start = timespec()
  clock_gettime(CLOCK_MONOTONIC, &start)
  let attributes = TerminalProbe.queryDeviceAttributes(fd: pty.follower, timeoutMilliseconds: 50)
  var end = timespec()
  clock_gettime(CLOCK_MONOTONIC, &end)
  let elapsed = Int(end.tv_sec - start.tv_sec) * 1000 + Int(end.tv_nsec - start.tv_nsec) / 1_000_000
  #expect(attributes == nil)
  #expect(pty.localFlags() == before, "terminal modes restored after a timeout")
  // A liveness bound, not a speed measurement: a hang would take forever, not 5 s.
  #expect(elapsed < 5000)
}

@Test func parsesAnswersAmongOtherBytes() {
  let esc: UInt8 = 0x1B
  #expect(TerminalProbe.parseDeviceAttributes([esc] + Array("[?62;4c".utf8)) == [62, 4])
  // Keys typed before the answer are skipped.
  #expect(
    TerminalProbe.parseDeviceAttributes(Array("ab".utf8) + [esc] + Array("[?64;4;22c".utf8)) == [64, 4, 22])
  // 8-bit CSI.
  #expect(TerminalProbe.parseDeviceAttributes([0x9B] + Array("?6c".utf8)) == [6])
  // Incomplete or malformed answers give nil.
  #expect(TerminalProbe.parseDeviceAttributes([esc] + Array("[?63;1;2".utf8)) == nil)
  #expect(TerminalProbe.parseDeviceAttributes([esc] + Array("[?63;x;4c".utf8)) == nil)
  #expect(TerminalProbe.parseDeviceAttributes([esc] + Array("[63;4c".utf8)) == nil)
  #expect(TerminalProbe.parseDeviceAttributes([]) == nil)
  // A malformed answer followed by a good one: the good one counts.
  #expect(
    TerminalProbe.parseDeviceAttributes([esc] + Array("[?6x".utf8) + [esc] + Array("[?1;4c".utf8)) == [1, 4])
}

@Test func windowSizeTreatsZeroPixelsAsUnknown() throws {
  let pty = try PTY()
  defer { pty.close() }
  var ws = winsize(ws_row: 24, ws_col: 80, ws_xpixel: 720, ws_ypixel: 456)
  #expect(ioctl(pty.follower, UInt(TIOCSWINSZ), &ws) == 0)
  let size = TerminalProbe.windowSize(fd: pty.follower)
  #expect(size == TerminalProbe.WindowSize(columns: 80, rows: 24, cellWidthPx: 9, cellHeightPx: 19))
  ws = winsize(ws_row: 50, ws_col: 132, ws_xpixel: 0, ws_ypixel: 0)
  #expect(ioctl(pty.follower, UInt(TIOCSWINSZ), &ws) == 0)
  let unknown = TerminalProbe.windowSize(fd: pty.follower)
  #expect(unknown == TerminalProbe.WindowSize(columns: 132, rows: 50, cellWidthPx: nil, cellHeightPx: nil))
}

@Test func environmentDecidesTmuxAndSSH() {
  let caps = TerminalProbe.run(
    timeoutMilliseconds: 50,
    environment: [
      "TERM": "tmux-256color", "COLORTERM": "truecolor", "TMUX": "/tmp/tmux-0/default,1,0",
      "TERM_PROGRAM": "tmux", "TERM_PROGRAM_VERSION": "3.3a", "SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22",
    ])
  #expect(caps.term == "tmux-256color")
  #expect(caps.colorTerm == "truecolor")
  #expect(caps.inTmux)
  #expect(caps.tmuxVersion == "3.3a")
  #expect(caps.overSSH)

  let plain = TerminalProbe.run(timeoutMilliseconds: 50, environment: ["TERM": "xterm", "TMUX": ""])
  #expect(!plain.inTmux && plain.tmuxVersion == nil && !plain.overSSH && plain.colorTerm == nil)
}

@Test func tmuxVersionFromTheCommand() throws {
  // `tmux -V` is run only when the environment does not say; tmux is installed by `make deps`.
  guard access("/usr/bin/tmux", X_OK) == 0 else { return }
  let version = try #require(TerminalProbe.tmuxVersionFromCommand(timeoutMilliseconds: 2000))
  #expect(version.first?.isNumber == true || version.hasPrefix("next-"))
  #expect(TerminalProbe.runCommand(["false"], timeoutMilliseconds: 2000) == nil)
  #expect(TerminalProbe.runCommand(["/nonexistent/command"], timeoutMilliseconds: 2000) == nil)
}

@Test func capabilitiesRoundTripThroughJSONShape() throws {
  // Codable: `blastview doctor --json` prints this type.
  let caps = TerminalCapabilities(term: "xterm", isTTY: true, sixel: true, deviceAttributes: [63, 4])
  #expect(caps.sixel == true)
  #expect(caps.cellWidthPx == nil)
}

@Test func graphicsModeFollowsProbeTmuxAndOverride() {
  let xterm = TerminalCapabilities(term: "xterm", isTTY: true, sixel: true, deviceAttributes: [63, 4])
  #expect(GraphicsMode.choose(for: xterm, override: nil).mode == .sixel)
  #expect(GraphicsMode.choose(for: xterm, override: "blocks").mode == .blocks)
  #expect(GraphicsMode.choose(for: xterm, override: "NONE").mode == .none)
  var tmux = xterm
  tmux.inTmux = true
  tmux.tmuxVersion = "3.3a"
  #expect(GraphicsMode.choose(for: tmux, override: nil).mode == .blocks)
  tmux.tmuxVersion = "3.4"
  #expect(GraphicsMode.choose(for: tmux, override: nil).mode == .sixel)
  tmux.tmuxVersion = "next-3.5"
  #expect(GraphicsMode.choose(for: tmux, override: nil).mode == .sixel)
  #expect(GraphicsMode.tmuxVersionNumber("3.10")! > GraphicsMode.tmuxVersionNumber("3.4")!)
  #expect(GraphicsMode.tmuxVersionNumber("3.3a")! == (3, 3))
  #expect(GraphicsMode.tmuxVersionNumber("garbage") == nil)
  let silent = TerminalCapabilities(term: "xterm", isTTY: true)
  #expect(GraphicsMode.choose(for: silent, override: nil).mode == .blocks)
}

@Test func probeRepliesAreParsedFromOneStream() {
  // xterm -ti vt340 with 256 registers answers the four queries in order.
  let stream = Array(
    "\u{1B}[?1;0;256S\u{1B}[6;19;9t\u{1B}[?1016;2$y\u{1B}[?63;1;2;4;6;9;15;16;22;28c".utf8)
  let r = TerminalProbe.Replies(parsing: stream)
  #expect(r.colorRegisters == 256)
  #expect(r.cellSize?.width == 9 && r.cellSize?.height == 19)
  #expect(r.mousePixels == true)
  #expect(r.deviceAttributes == [63, 1, 2, 4, 6, 9, 15, 16, 22, 28])
}

@Test func probeRepliesThatSayNoAreUnderstood() {
  // XTSMGRAPHICS failure status (3), DECRPM "not recognised" (0), no CSI 16 t answer.
  let r = TerminalProbe.Replies(parsing: Array("\u{1B}[?1;3;0S\u{1B}[?1016;0$y\u{1B}[?62;22c".utf8))
  #expect(r.colorRegisters == nil)
  #expect(r.mousePixels == false)
  #expect(r.cellSize == nil)
  #expect(r.deviceAttributes == [62, 22])
  // Only the attributes (a terminal that ignores the rest).
  let plain = TerminalProbe.Replies(parsing: Array("\u{1B}[?6c".utf8))
  #expect(plain.colorRegisters == nil && plain.mousePixels == nil && plain.deviceAttributes == [6])
}

@Test func probeQueriesEndWithDeviceAttributes() {
  let q = String(decoding: TerminalProbe.queries(askCellSize: true), as: UTF8.self)
  #expect(q == "\u{1B}[?1;1;0S\u{1B}[16t\u{1B}[?1016$p\u{1B}[c")
  #expect(!String(decoding: TerminalProbe.queries(askCellSize: false), as: UTF8.self).contains("16t"))
}

@Test func cellSizeDefaultsToTenByTwenty() {
  #expect(TerminalCapabilities().effectiveCellSize == (10, 20))
  #expect(TerminalCapabilities(cellWidthPx: 9, cellHeightPx: 19).effectiveCellSize == (9, 19))
}
