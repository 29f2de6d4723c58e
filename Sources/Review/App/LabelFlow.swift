import CaseStore
import Terminal

// How labelling flows (issue 18, item 8): a number key labels the open case or the browser's
// selected tile; `a` asks before replacing a different label of mine with the model's; after a
// label in a session queue the next case opens (`N` switches that, and the workspace keeps it).

extension ReviewApp {
  /// The workspace settings that keep `N`'s choice: one for session queues (on unless set
  /// "off") and one for the whole workspace (off unless set "on").
  public static func advanceSetting(inSession: Bool) -> String {
    inSession ? "review_advance_in_sessions" : "review_advance"
  }
}

/// Labels the open case (or, in the browser, the selected one): a class key or the model's
/// prediction; `N` switches moving on after a label.
func labelAction(_ state: AppState, _ action: Action) -> (AppState, [Effect]) {
  var s = state
  switch action {
  case .setLabel(let key):
    guard let cls = s.schema.classForKey(key) else { return (s, []) }
    if s.screen == .browser {
      guard let row = s.selectedRow else { return (s, []) }
      return (s, [.annotate(caseID: row.id, label: cls.name)])
    }
    guard let detail = s.detail else { return (s, []) }
    return (s, [.annotate(caseID: detail.record.id, label: cls.name)])
  case .acceptPrediction:
    guard let detail = s.detail else { return (s, []) }
    guard let prediction = detail.prediction else {
      s.status = StatusMessage(
        detail.modelHidden ? "The model is hidden in this session" : "No prediction for this case yet", .error
      )
      return (s, [])
    }
    if let mine = detail.mine?.label, mine != prediction.label {
      s.confirmAccept = AppState.PendingLabel(caseID: detail.record.id, label: prediction.label)
      s.status = StatusMessage(
        "Replace your label \(mine) with the model's \(prediction.label)? y replaces it · any other key keeps yours",
        .info)
      return (s, [])
    }
    return (s, [.annotate(caseID: detail.record.id, label: prediction.label)])
  case .toggleAdvance:
    s.advanceAfterLabel.toggle()
    s.status = StatusMessage(
      s.advanceAfterLabel
        ? "After a label the next case opens (N switches it off)"
        : "After a label the case stays open (N switches moving on)")
    return (
      s,
      [
        .saveSetting(
          name: ReviewApp.advanceSetting(inSession: s.session != nil),
          value: s.advanceAfterLabel ? "on" : "off")
      ]
    )
  default:
    return (s, [])
  }
}

/// The answer to "replace your label with the model's?": `y` records it, any other key keeps
/// mine. nil when no question is open.
func confirmAcceptKey(_ state: AppState, _ key: KeyPress) -> (AppState, [Effect])? {
  var s = state
  guard let pending = s.confirmAccept else { return nil }
  s.confirmAccept = nil
  guard key == KeyPress("y"), s.screen == .caseView, s.detail?.record.id == pending.caseID else {
    s.status = StatusMessage("Your label stays")
    return (s, [])
  }
  return (s, [.annotate(caseID: pending.caseID, label: pending.label)])
}

/// After a label of the open case, with moving on switched on: the next case's effects (nil
/// to stay). The status keeps what was saved and says which case follows.
func advanceAfterLabelEffects(_ s: inout AppState, _ a: Annotation) -> [Effect]? {
  guard s.advanceAfterLabel, a.label != nil, s.screen == .caseView, s.detail?.record.id == a.caseID
  else { return nil }
  let saved = s.status?.text ?? ""
  let (next, effects) = stepCase(s, forward: true)
  s = next
  guard !effects.isEmpty else {
    s.status = StatusMessage(saved + " · that was the last case", .ok)
    return []
  }
  s.status = StatusMessage(saved + " · next case", .ok)
  return effects
}

/// `+` / `-` in the browser: the next tile width up or down, and the page reloaded to fill
/// the new grid from its first case.
func thumbnailSizeAction(_ state: AppState, larger: Bool) -> (AppState, [Effect]) {
  var s = state
  let widths = BrowserGrid.tileWidths
  let i = widths.lastIndex { $0 <= s.thumbnailWidth } ?? 0
  let j = larger ? min(widths.count - 1, i + 1) : max(0, i - 1)
  guard s.graphics, j != i || widths[i] != s.thumbnailWidth else {
    s.status = StatusMessage(
      !s.graphics
        ? "Thumbnails are off (--graphics none)"
        : larger ? "Thumbnails are at their largest" : "Thumbnails are at their smallest")
    return (s, [])
  }
  let before = s.grid.pageSize
  s.thumbnailWidth = widths[j]
  s.status = StatusMessage("Thumbnails \(widths[j] - 1) columns wide (+ larger, - smaller)")
  guard s.grid.pageSize != before, let request = s.pageRequest else { return (s, []) }
  var r = request
  r.limit = s.grid.pageSize
  return (s, [.loadPage(r)])
}
