import CaseStore
import Foundation
import MTACNN
import Terminal

/// The model version whose explanation the case view shows: the one that made the prediction on
/// screen, else the promoted one.
func explanationModel(_ s: AppState, _ d: CaseDetail) -> Int64? {
  d.prediction?.modelVersion ?? s.modelVersion
}

/// `e` and `d` in the case view.
func explainAction(_ state: AppState, _ action: ExplainAction) -> (AppState, [Effect]) {
  var s = state
  guard s.screen == .caseView, let d = s.detail else { return (s, []) }
  switch action {
  case .toggleExplanation:
    if s.explanations.showExplanation {
      s.explanations.showExplanation = false
      s.explanations.pending = nil
      s.status = StatusMessage("Explanation overlay off")
      return (s, [.explain(.cancel(keep: nil))])
    }
    // An explanation shows what the model says: never where the session hides the model.
    if d.modelHidden {
      s.status = StatusMessage("The model is hidden in this session until you label this case", .error)
      return (s, [])
    }
    guard explanationModel(s, d) != nil else {
      s.status = StatusMessage(
        "No model to explain with: promote one ("
          + View.command(s, ["predict"], ["--all-cases"], placeholders: "--model FILE") + ")", .error)
      return (s, [])
    }
    s.explanations.showExplanation = true
    s.explanations.failure = nil
    s.status = StatusMessage("Explanation overlay on: Grad-CAM now, LIME in the background")
    let effects = requestExplanations(&s)
    return (s, effects)
  case .toggleDetections:
    if d.modelHidden {
      s.status = StatusMessage("The model is hidden in this session until you label this case", .error)
      return (s, [])
    }
    guard let p = d.prediction else {
      s.status = StatusMessage("No prediction for this case yet", .error)
      return (s, [])
    }
    s.explanations.showDetections.toggle()
    let n = p.detections.count
    s.status = StatusMessage(
      s.explanations.showDetections
        ? "Nucleus boxes on: \(n) \(n == 1 ? "nucleus" : "nuclei") detected" : "Nucleus boxes off")
    return (s, [])
  }
}

/// When the explanation overlay is on: the explanations the case in view still needs (Grad-CAM
/// first, then LIME), and a stop to any other case's; LIME becomes the pending one. Called when
/// the toggle goes on and when another case opens.
func requestExplanations(_ state: inout AppState) -> [Effect] {
  guard state.explanations.showExplanation, let d = state.detail, !d.modelHidden,
    let version = explanationModel(state, d)
  else { return [] }
  let id = d.record.id
  if let c = state.explanations.current, c.key.caseID == id, c.key.modelVersion == version,
    c.key.method == .lime
  {
    return []
  }
  var jobs: [ExplanationJob] = []
  let lime = ExplanationKey(caseID: id, modelVersion: version, method: .lime)
  let shownGradCAM =
    state.explanations.current.map { $0.key.caseID == id && $0.key.modelVersion == version } ?? false
  if !shownGradCAM {
    jobs.append(
      ExplanationJob(
        key: ExplanationKey(caseID: id, modelVersion: version, method: .gradcam),
        imagePath: d.record.imagePath, imageSHA256: d.record.sha256))
  }
  if state.explanations.pending != lime {
    jobs.append(ExplanationJob(key: lime, imagePath: d.record.imagePath, imageSHA256: d.record.sha256))
    state.explanations.pending = lime
    state.explanations.done = 0
    state.explanations.total = 0
  }
  return [.explain(.cancel(keep: id))] + (jobs.isEmpty ? [] : [.explain(.explain(jobs))])
}

/// State after another case opened: what belongs to the old case goes.
func explanationCaseOpened(_ state: AppState) -> (AppState, [Effect]) {
  var s = state
  guard let id = s.detail?.record.id else { return (s, []) }
  if let c = s.explanations.current, c.key.caseID != id { s.explanations.current = nil }
  if let p = s.explanations.pending, p.caseID != id {
    s.explanations.pending = nil
    s.explanations.done = 0
    s.explanations.total = 0
  }
  s.explanations.failure = nil
  let effects = requestExplanations(&s)
  return (s, effects)
}

/// Results from the background worker.
func explainUpdate(_ state: AppState, _ event: ExplainEvent) -> (AppState, [Effect]) {
  var s = state
  let inView = s.detail?.record.id
  switch event {
  case .ready(let e, _):
    guard e.key.caseID == inView else { return (s, []) }
    let current = s.explanations.current
    let sameCase =
      current.map { $0.key.caseID == e.key.caseID && $0.key.modelVersion == e.key.modelVersion } ?? false
    if e.key.method == .lime || !sameCase || current?.key.method == .gradcam {
      s.explanations.current = e
    }
    if s.explanations.pending == e.key {
      s.explanations.pending = nil
      if s.explanations.showExplanation && s.screen == .caseView && mayReplaceStatus(s) {
        s.status = StatusMessage("LIME explanation of case #\(e.key.caseID) ready", .ok)
      }
    }
    return (s, [])
  case .progress(let key, let done, let total):
    guard s.explanations.pending == key else { return (s, []) }
    s.explanations.done = done
    s.explanations.total = total
    if s.explanations.showExplanation && s.screen == .caseView && mayReplaceStatus(s) {
      s.status = StatusMessage(
        "LIME for case #\(key.caseID): \(done)/\(total) perturbed images (Grad-CAM shown meanwhile)")
    }
    return (s, [])
  case .failed(let key, let message):
    guard key.caseID == inView else { return (s, []) }
    if s.explanations.pending == key { s.explanations.pending = nil }
    let text = "\(key.method == .lime ? "LIME" : "Grad-CAM") failed: \(Sanitizer.sanitize(message))"
    s.explanations.failure = text
    s.status = StatusMessage(text, .error)
    return (s, [])
  }
}

/// Background news goes to the status line only over an informational message: a "Saved"
/// confirmation or an error stays until the next key (the legend shows LIME's progress anyway).
func mayReplaceStatus(_ s: AppState) -> Bool {
  guard let kind = s.status?.kind else { return true }
  return kind == .info
}
