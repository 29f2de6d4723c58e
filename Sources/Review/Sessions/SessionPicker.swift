import CaseStore
import Foundation
import Terminal

/// `A` outside a session (issue 18, item 8): instead of an error that named a command to run
/// elsewhere, a list of the workspace's sessions; Enter works in the chosen one (its queue,
/// its blinding) and opens its agreement dashboard, Esc closes the list.
public struct SessionPickerState: Equatable, Sendable {
  /// nil until the list arrives.
  public var sessions: [SessionInfo]?
  public var selection = 0
  /// Where the picker was opened, for the dashboard's Esc.
  public var returnTo: Screen

  public init(returnTo: Screen) { self.returnTo = returnTo }
}

/// Opens the picker and asks for the sessions.
func openSessionPicker(_ state: AppState) -> (AppState, [Effect]) {
  var s = state
  s.sessionPicker = SessionPickerState(returnTo: s.screen == .dashboard ? .browser : s.screen)
  return (s, [.sessions(.loadSessionList)])
}

/// A key while the picker is open: ↑/↓ (k/j) choose, Enter switches, Esc or q closes.
func sessionPickerKey(_ state: AppState, _ key: KeyPress) -> (AppState, [Effect])? {
  var s = state
  guard var p = s.sessionPicker else { return nil }
  let count = p.sessions?.count ?? 0
  switch key {
  case KeyPress(.up), KeyPress("k"): p.selection = max(0, p.selection - 1)
  case KeyPress(.down), KeyPress("j"): p.selection = min(max(0, count - 1), p.selection + 1)
  case KeyPress(.enter):
    guard let chosen = p.sessions?[safe: p.selection] else { return (s, []) }
    s.status = StatusMessage("Opening session \(Sanitizer.sanitize(chosen.name))…")
    return (s, [.sessions(.switchSession(chosen.name))])
  case KeyPress(.escape), KeyPress("q"), KeyPress("A"):
    s.sessionPicker = nil
    return (s, [])
  default: break
  }
  s.sessionPicker = p
  return (s, [])
}

/// The runner switched to `info`: the browser shows its queue, the dashboard opens.
func sessionSwitched(_ state: AppState, _ info: SessionInfo, advance: Bool) -> (AppState, [Effect]) {
  var s = state
  let back = s.sessionPicker?.returnTo ?? .browser
  s.sessionPicker = nil
  s.session = info.name
  s.sessionInfo = info
  s.sort = .sessionQueue
  s.ascending = true
  s.advanceAfterLabel = advance
  s.pageNumber = 1
  s.selection = 0
  s.matching = nil
  s.status = StatusMessage(
    "Working in session \(Sanitizer.sanitize(info.name)): its queue and its blinding", .ok)
  // What was open came from outside the session (no blinding): the case view goes back to the browser.
  s.detail = nil
  s.dashboard = DashboardState(returnTo: back == .caseView ? .browser : back)
  s.screen = .dashboard
  return (
    s,
    [
      .loadPage(pageRequest(s, cursor: nil, backward: false)), .countCases(s.filter),
      .sessions(.loadDashboard),
    ]
  )
}

extension Array {
  subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}

extension View {
  /// The picker, boxed over the screen.
  static func sessionPicker(_ s: AppState, _ f: inout Frame) {
    guard let p = s.sessionPicker else { return }
    let width = min(s.columns - 4, 76)
    let listRows = max(1, min(p.sessions?.count ?? 1, s.rows - 8))
    let rect = CellRect(
      row: max(1, (s.rows - listRows - 5) / 2), column: (s.columns - width) / 2, rows: listRows + 5,
      columns: width)
    f.fill(rect, style: Style(.text))
    f.box(rect, title: "Open a session")
    var y = rect.row + 1
    let inner = width - 4
    guard let sessions = p.sessions else {
      f.put("Loading…", row: y, column: rect.column + 2, style: Style(.dim), width: inner)
      return
    }
    if sessions.isEmpty {
      f.put(
        "This workspace has no session yet. A lead makes one with", row: y, column: rect.column + 2,
        width: inner)
      y += 1
    }
    let top = max(0, min(p.selection - listRows + 1, sessions.count - listRows))
    for (i, info) in sessions.enumerated().dropFirst(top).prefix(listRows) {
      let selected = i == p.selection
      let mine =
        info.raters.contains(s.rater) ? " · mine \(info.labelled[s.rater] ?? 0)/\(info.caseCount)" : ""
      let flags = [info.isOpen ? "open" : "closed", info.blinded ? "blinded" : nil].compactMap { $0 }
        .joined(separator: ", ")
      f.put(
        (selected ? "▶ " : "  ") + Sanitizer.sanitize(info.name) + " · \(info.caseCount) cases · \(flags)"
          + mine,
        row: y, column: rect.column + 2, style: selected ? Style(.selection) : Style(.text), width: inner)
      y += 1
    }
    let create = command(s, ["session", "create"], placeholders: "NAME --raters A,B --cases random:30")
    let foot = sessions.isEmpty ? create : "↑/↓ choose · Enter work in it · Esc close"
    for (i, text) in wrapped(foot, width: inner).prefix(2).enumerated() {
      f.put(text, row: rect.bottom - 3 + i, column: rect.column + 2, style: Style(.dim), width: inner)
    }
    f.images.removeAll { $0.rect.intersects(rect) }
  }
}
