import CaseStore
import Foundation
import Imaging
import Terminal
import Workflows

// The pure update of agreement sessions, live refresh, triage, adjudication and the case
// view's overlays. `Update.swift` calls in here at a few marked points.

/// The screens whose keys `sessionScreenAction` handles.
let sessionScreens: [Screen] = [.dashboard, .triage, .adjudication]

/// On start: the session's progress, and a first poll of the change counter (its baseline).
func sessionStartEffects(_ s: AppState) -> [Effect] {
  (s.session != nil ? [.sessions(.loadSession)] : []) + [.sessions(.pollChanges)]
}

/// On every timer tick: has another process committed?
func tickEffects(_ s: AppState) -> [Effect] {
  s.quitting ? [] : [.sessions(.pollChanges)]
}

/// What to reload when another process committed: what is on screen, never an edit in
/// progress (the mask editor and an adjudication being written keep their state).
func refreshEffects(_ s: AppState) -> [Effect] {
  var effects: [Effect] = []
  if s.session != nil { effects.append(.sessions(.loadSession)) }
  switch s.screen {
  case .dashboard: effects.append(.sessions(.loadDashboard))
  case .triage: effects.append(.sessions(.loadTriage(confidenceBelow: s.triageConfidence)))
  case .browser:
    if let request = s.pageRequest { effects += [.loadPage(request), .countCases(s.filter)] }
  case .caseView:
    if let d = s.detail { effects.append(.loadCase(d.record.id)) }
  case .maskEditor, .adjudication, .models: break
  }
  return effects
}

func sessionUpdate(_ state: AppState, _ event: SessionEvent) -> (AppState, [Effect]) {
  var s = state
  switch event {
  case .sessionLoaded(let info):
    let wasOpen = s.sessionInfo?.isOpen
    s.sessionInfo = info
    if wasOpen == true && !info.isOpen {
      s.status = StatusMessage(
        "Session \(Sanitizer.sanitize(info.name)) was closed by \(Sanitizer.sanitize(info.createdBy)): it is read-only now"
      )
    }
    return (s, [])
  case .changesPolled(let version):
    let previous = s.changeVersion
    s.changeVersion = version
    guard let previous, previous != version else { return (s, []) }
    return (s, refreshEffects(s))
  case .roleLoaded(let role):
    s.role = role
    return (s, [])
  case .adjudicationRefused(let role):
    s.role = role
    s.status = StatusMessage(adjudicatorRefusal(s), .error)
    return (s, [])
  case .dashboardLoaded(let report, let at):
    guard var d = s.dashboard else { return (s, []) }
    d.report = report
    d.updatedAt = at
    d.refreshes += 1
    d.pair = min(d.pair, max(0, report.labels.pairwise.count - 1))
    s.dashboard = d
    s.sessionInfo = report.session
    return (s, [])
  case .sessionClosed(let info):
    s.sessionInfo = info
    s.status = StatusMessage(
      "Closed session \(Sanitizer.sanitize(info.name)): it is read-only now, and its blinding has ended", .ok)
    // Blinding ended: everyone may now see more.
    return (s, s.screen == .dashboard ? [.sessions(.loadDashboard)] : [])
  case .triageLoaded(let items, let threshold):
    guard var t = s.triage else { return (s, []) }
    t.items = items
    t.loaded = true
    t.selection = min(t.selection, max(0, items.count - 1))
    t.scrollToSelection(visible: View.triageListRows(s))
    s.triage = t
    s.triageConfidence = threshold
    return (s, [])
  case .adjudicationLoaded(let c):
    s.adjudication = AdjudicationState(c, item: s.triage?.items.first { $0.caseID == c.detail.record.id })
    s.screen = .adjudication
    return (s, [])
  case .adjudicated(let a):
    s.status = StatusMessage(
      "Adjudicated case #\(a.caseID): \(View.labelName(a.label))"
        + (a.maskID != nil ? " with a mask" : "") + "; it has left the queue", .ok)
    s.adjudication = nil
    s.editor = nil
    s.screen = .triage
    if var t = s.triage {
      t.items.removeAll { $0.caseID == a.caseID }
      t.selection = min(t.selection, max(0, t.items.count - 1))
      s.triage = t
    }
    return (s, [.sessions(.loadTriage(confidenceBelow: s.triageConfidence))])
  case .sessionListLoaded(let list):
    guard var p = s.sessionPicker else { return (s, []) }
    // The sessions I can work in first (mine to rate, open), then the rest.
    p.sessions = list.sorted {
      ($0.raters.contains(s.rater) && $0.isOpen ? 0 : 1, $0.name) < (
        $1.raters.contains(s.rater) && $1.isOpen ? 0 : 1, $1.name
      )
    }
    p.selection = 0
    s.sessionPicker = p
    return (s, [])
  case .sessionSwitched(let info, let advance):
    return sessionSwitched(s, info, advance: advance)
  case .overlayMasksLoaded(let caseID, let masks):
    guard s.detail?.record.id == caseID else { return (s, []) }
    s.overlays.caseID = caseID
    s.overlays.masks = masks
    return (s, [])
  }
}

/// Keys that are text or an answer rather than an action: the reason being typed, the
/// reply to "close the session?". nil when neither applies.
func sessionTextKey(_ state: AppState, _ key: KeyPress) -> (AppState, [Effect])? {
  var s = state
  if s.screen == .adjudication, var a = s.adjudication, a.typing {
    switch a.reason.handle(key) {
    case .editing: break
    case .submitted:
      a.typing = false
      s.status = StatusMessage(
        a.label == nil
          ? "Reason kept. Choose the final label (\(s.schema.classes.map(\.key).joined(separator: "/"))), then Enter records"
          : "Reason kept. Enter records the adjudication")
    case .cancelled:
      a.reason = a.reasonBeforeTyping
      a.typing = false
      s.status = StatusMessage("Reason not changed")
    }
    s.adjudication = a
    return (s, [])
  }
  if s.screen == .dashboard, var d = s.dashboard, d.confirmClose {
    d.confirmClose = false
    s.dashboard = d
    if key == KeyPress("y") { return (s, [.sessions(.closeSession)]) }
    s.status = StatusMessage("The session stays open")
    return (s, [])
  }
  return nil
}

/// Pasted text goes into the reason being typed; anywhere else it is ignored.
func sessionPaste(_ state: AppState, _ text: String) -> (AppState, [Effect]) {
  var s = state
  guard s.screen == .adjudication, var a = s.adjudication, a.typing else { return (s, []) }
  a.reason.insert(text)
  s.adjudication = a
  return (s, [])
}

/// Why an editing key is refused in the case view of a session, or nil: a closed session
/// is read-only, and only its raters label in it (the store refuses both as well).
func readOnlyRefusal(_ s: AppState, _ action: Action) -> StatusMessage? {
  guard let name = s.session, s.screen == .caseView || s.screen == .browser, let info = s.sessionInfo else {
    return nil
  }
  switch action {
  case .setLabel, .acceptPrediction, .editMask: break
  default: return nil
  }
  let safe = Sanitizer.sanitize(name)
  if !info.isOpen {
    return StatusMessage(
      "Session \(safe) is closed and read-only: its labels and masks can no longer change", .error)
  }
  if !info.raters.contains(s.rater) {
    return StatusMessage(
      "You are not a rater of session \(safe): you can follow its agreement"
        + (info.createdBy == s.rater ? " and close it" : "") + ", not label in it", .error)
  }
  return nil
}

/// Actions from any screen: open the dashboard or the triage queue, toggle overlays.
func sessionAction(_ state: AppState, _ action: SessionAction) -> (AppState, [Effect]) {
  var s = state
  switch action {
  case .openDashboard:
    guard s.session != nil else { return openSessionPicker(s) }
    s.dashboard = DashboardState(returnTo: s.screen == .dashboard ? .browser : s.screen)
    s.screen = .dashboard
    return (s, [.sessions(.loadDashboard)])
  case .openTriage:
    // Esc from triage goes back where `!` was pressed, the dashboard included (issue 18); the
    // dashboard keeps where it came from.
    let from = s.screen
    s.triage = TriageState(returnTo: from, returnCase: from == .caseView ? s.detail?.record.id : nil)
    if from != .dashboard { s.dashboard = nil }
    s.screen = .triage
    return (s, [.sessions(.loadTriage(confidenceBelow: s.triageConfidence))])
  case .toggleModelMask, .toggleMyMask, .cycleOtherMasks:
    return overlayAction(s, action)
  default:
    return (s, [])
  }
}

/// The keys of the dashboard, triage and adjudication screens; nil for the ones they share
/// with every screen (help, quit) and for opening another of these screens.
func sessionScreenAction(_ s: inout AppState, _ action: Action) -> [Effect]? {
  switch action {
  case .help, .quit, .session(.openDashboard), .session(.openTriage): return nil
  default: break
  }
  switch s.screen {
  case .dashboard: return dashboardAction(&s, action)
  case .triage: return triageAction(&s, action)
  case .adjudication: return adjudicationAction(&s, action)
  default: return nil
  }
}

/// A finished mask edit: saved as my annotation, or, while the editor serves an adjudication,
/// kept as the adjudication's mask until it is recorded.
func maskSaveEffects(_ s: inout AppState, caseID: Int64, mask: Mask) -> [Effect] {
  if var a = s.adjudication, a.editingMask, a.data.detail.record.id == caseID {
    a.finalMask = .edited(mask)
    s.adjudication = a
    s.status = StatusMessage(
      "Adjudication mask edited (\(mask.values.filter { $0 >= 128 }.count) nucleus pixels); recorded with the adjudication"
    )
    return []
  }
  let base = s.editor.map { $0.caseID == caseID ? $0.base : nil } ?? nil
  return [.saveMask(caseID: caseID, mask: mask, base: base ?? MaskEditBase(annotationID: nil, mask: nil))]
}

/// Where the mask editor's Esc goes: back to the adjudication it serves, or the case view.
func leaveMaskEditor(_ s: inout AppState) -> [Effect] {
  if var a = s.adjudication, a.editingMask {
    a.editingMask = false
    s.adjudication = a
    s.screen = .adjudication
    return []
  }
  s.screen = .caseView
  return s.overlays.any ? [.sessions(.loadOverlayMasks(caseID: s.detail?.record.id ?? 0))] : []
}

extension View {
  /// The header's session part: its name and my progress through its queue ("k of n"), or
  /// that it is closed, or that I only follow it.
  static func sessionHeader(_ s: AppState) -> String {
    guard let name = s.session else { return "—" }
    let safe = Sanitizer.sanitize(name)
    guard let info = s.sessionInfo else { return safe }
    if !info.isOpen { return "\(safe) (closed, read-only)" }
    guard info.raters.contains(s.rater) else { return "\(safe) (following, not a rater)" }
    return "\(safe) (\(info.labelled[s.rater] ?? 0) of \(info.caseCount) labelled)"
  }
}
