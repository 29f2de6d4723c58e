import CaseStore
import Imaging
import Terminal

/// What `update` asks the runner to do; results come back as events.
public enum Effect: Equatable, Sendable {
  case loadPage(CasePageRequest)
  case countCases(CaseFilter)
  case loadCase(Int64)
  /// Record my label for the case (saved at once).
  case annotate(caseID: Int64, label: String)
  /// Load my current mask and the model's for the case, for the mask editor.
  case loadMask(Int64)
  /// Record my mask for the case (saved at once, one annotation per finished edit).
  /// `base`: the saved version the edit was made on (a stale save is merged, not lost).
  case saveMask(caseID: Int64, mask: Mask, base: MaskEditBase = MaskEditBase(annotationID: nil, mask: nil))
  /// Read the thumbnails of these browser cases (cached, or made and cached).
  case loadThumbnails([ThumbnailRequest])
  /// Read the case image at this path.
  case loadCaseImage(path: String)
  case quit
  /// Sessions, triage, adjudication, overlays (`Screens/SessionMessages.swift`).
  case sessions(SessionEffect)
  /// Retraining and the model screen (`Retraining.swift`).
  case retrain(RetrainEffect)
  /// Explanations, computed in the background (`Screens/ExplanationMessages.swift`).
  case explain(ExplainEffect)
  /// Predictions missing for the promoted model, filled by a background process
  /// (`BackgroundPredictions.swift`).
  case predictions(PredictionEffect)
  /// Keep a workspace setting (a choice made with a key, e.g. `N`).
  case saveSetting(name: String, value: String)
}

/// Everything that reaches `update`.
public enum AppEvent: Equatable, Sendable {
  case input(InputEvent)
  /// What the terminal measured: its cell size in pixels (probed at start and again after a
  /// resize, which may change the font) and the theme's overlay colours.
  case display(cellWidth: Int, cellHeight: Int, colours: OverlayColours)
  case pageLoaded(CasePage, CasePageRequest)
  case countLoaded(Int)
  case caseLoaded(CaseDetail, history: [Annotation])
  case annotated(Annotation)
  case maskLoaded(
    caseID: Int64, mine: Mask?, model: Mask?, reference: Mask? = nil, width: Int, height: Int,
    mineAnnotation: Int64? = nil)
  /// `saved`: the mask as stored; `merged`: it includes a mask saved meanwhile elsewhere.
  case maskSaved(Annotation, pixels: Int, saved: Mask? = nil, merged: Bool = false)
  /// Thumbnails by case id (nil: unreadable).
  case thumbnailsLoaded([Int64: RGBImage?])
  case caseImageLoaded(path: String, RGBImage?)
  /// The promoted model's screening operating point was read (at start, and when the promoted
  /// model changes).
  case screeningLoaded(ScreeningPoint?)
  /// Nucleus pixels of the masks in the open case's history, by mask id.
  case maskPixelsLoaded([Int64: Int])
  case failed(String)
  /// A timer tick (about once a second): poll for other processes' changes.
  case tick
  case sessions(SessionEvent)
  case retrain(RetrainEvent)
  case explain(ExplainEvent)
  case predictions(PredictionEvent)
}

/// The app's first effects: the first page and its count.
public func start(_ state: AppState) -> (AppState, [Effect]) {
  let request = pageRequest(state, cursor: nil, backward: false)
  return (
    state,
    [.loadPage(request), .countCases(state.filter)] + sessionStartEffects(state) + retrainStartEffects(state)
      + predictionStartEffects(state)
  )
}

func pageRequest(_ state: AppState, cursor: CaseCursor?, backward: Bool) -> CasePageRequest {
  CasePageRequest(
    filter: state.filter, sort: state.sort, ascending: state.ascending, cursor: cursor, backward: backward,
    limit: state.grid.pageSize)
}

/// The pure update: a new state and the effects to run.
public func update(_ state: AppState, _ event: AppEvent) -> (AppState, [Effect]) {
  var s = state
  switch event {
  case .input(.resize(let rows, let columns)):
    let oldSize = s.grid.pageSize
    s.rows = rows
    s.columns = columns
    // A new grid holds a different number of cases: reload from the same start.
    if s.grid.pageSize != oldSize, let request = s.pageRequest {
      var r = request
      r.limit = s.grid.pageSize
      return (s, [.loadPage(r)])
    }
    return (s, [])
  case .display(let cellWidth, let cellHeight, let colours):
    s.cellWidth = max(1, cellWidth)
    s.cellHeight = max(1, cellHeight)
    s.overlayColours = colours
    return (s, [])
  case .input(.terminate):
    // The editing visit (a stroke in progress included) is saved before the app ends.
    let save = endEditingVisit(&s)
    s.quitting = true
    return (s, save + [.quit])
  case .input(.key(let key)):
    return handleKey(s, key)
  case .input(.mouse(let mouse)):
    return handleMouse(s, mouse)
  case .input(.paste(let text)):
    return sessionPaste(s, text)
  case .input:
    return (s, [])
  case .tick:
    return (s, tickEffects(s))
  case .sessions(let e):
    let (next, effects) = sessionUpdate(s, e)
    var pictures: [Effect] = []
    if case .adjudicationLoaded(let c) = e {
      pictures = caseImageEffects(next, path: c.detail.record.imagePath)
    }
    return (next, effects + pictures + retrainChangeEffects(s, e) + predictionChangeEffects(s, e))
  case .retrain(let e):
    return retrainUpdate(s, e)
  case .explain(let e):
    return explainUpdate(s, e)
  case .predictions(let e):
    return predictionUpdate(s, e)
  case .pageLoaded(let page, let request):
    s.page = page
    s.pageRequest = request
    s.selection = min(s.selection, max(0, page.rows.count - 1))
    let thumbnails = thumbnailEffects(&s)
    if let open = s.openAfterLoad {
      s.openAfterLoad = nil
      guard !page.rows.isEmpty else { return (s, thumbnails) }
      s.selection = open == .first ? 0 : page.rows.count - 1
      return (s, thumbnails + [.loadCase(page.rows[s.selection].id)])
    }
    return (s, thumbnails)
  case .thumbnailsLoaded(let loaded):
    let onPage = Set(s.page?.rows.map(\.id) ?? [])
    for (id, image) in loaded where onPage.contains(id) {
      s.pictures.thumbnails.updateValue(image, forKey: id)
    }
    return (s, [])
  case .caseImageLoaded(let path, let image):
    s.pictures.casePath = path
    s.pictures.caseImage = image
    return (s, [])
  case .countLoaded(let n):
    s.matching = n
    return (s, [])
  case .maskPixelsLoaded(let pixels):
    s.maskPixels.merge(pixels) { _, new in new }
    return (s, [])
  case .caseLoaded(let detail, let history):
    // Another case opens at the same magnification, centred.
    if s.detail?.record.id != detail.record.id { s.zoom.recentre() }
    s.detail = detail
    s.history = history
    if s.maskPixels.count > 256 { s.maskPixels = [:] }
    s.screen = .caseView
    let (opened, explain) = explanationCaseOpened(s)
    return (
      opened, caseImageEffects(opened, path: detail.record.imagePath) + overlayLoadEffects(opened) + explain
    )
  case .annotated(let a):
    return annotated(s, a)
  case .maskLoaded(let caseID, let mine, let model, let reference, let width, let height, let mineAnnotation):
    guard s.detail?.record.id == caseID else { return (s, []) }
    func fitted(_ m: Mask) -> Mask {
      m.width == width && m.height == height ? m : m.resized(width: width, height: height)
    }
    // Start from my last mask, else the model's, else the reference, and say which.
    let start: (MaskEditor.Start, Mask?) =
      mine != nil
      ? (.mine, mine)
      : model != nil
        ? (.model(version: s.detail?.prediction?.modelVersion), model)
        : reference != nil ? (.reference, reference) : (.empty, nil)
    var editor = MaskEditor(caseID: caseID, mask: start.1.map(fitted) ?? Mask(width: width, height: height))
    editor.start = start.0
    editor.base = MaskEditBase(annotationID: mineAnnotation, mask: mine.map(fitted))
    // Zoomed in, the cursor starts in the middle of what is in view.
    if !s.zoom.isFitted {
      let v = s.zoom.visible(width: width, height: height)
      editor.cursorX = v.x + v.width / 2
      editor.cursorY = v.y + v.height / 2
    }
    s.editor = editor
    s.modelMask = model.map(fitted)
    s.referenceMask = reference.map(fitted)
    s.screen = .maskEditor
    return (s, [])
  case .maskSaved(let a, let pixels, let saved, let merged):
    return maskSaved(s, a, pixels: pixels, saved: saved, merged: merged)
  case .screeningLoaded(let point):
    s.screening = point
    // The filter follows the promoted model: its new threshold, or off when it has none.
    guard s.filter.pMalignantAtLeast != nil else { return (s, []) }
    s.filter.pMalignantAtLeast = point?.threshold
    if point?.threshold == nil {
      s.status = StatusMessage(
        "Possibly-malignant filter off: the promoted model has no screening operating point")
    }
    return reload(s)
  case .failed(let message):
    s.status = StatusMessage(Sanitizer.sanitize(message), .error)
    return (s, [])
  }
}

/// A label was saved: the status, the open case, its browser row and the session follow;
/// with `advanceAfterLabel` the case view moves on to the next case.
private func annotated(_ state: AppState, _ a: Annotation) -> (AppState, [Effect]) {
  var s = state
  s.status = StatusMessage("Saved: case #\(a.caseID) labelled \(a.label ?? "none")", .ok)
  if var d = s.detail, d.record.id == a.caseID {
    d.mine = a
    s.detail = d
    s.history.insert(a, at: 0)
  }
  // The browser's row for the case shows the new label without a round trip.
  if var page = s.page, let i = page.rows.firstIndex(where: { $0.id == a.caseID }) {
    page.rows[i].myLabel = a.label
    s.page = page
  }
  // In a session: progress moves; and a case that was blinded is now mine to compare, so
  // reload it to show the other raters and the model.
  let progress: [Effect] = s.session != nil ? [.sessions(.loadSession)] : []
  if let next = advanceAfterLabelEffects(&s, a) { return (s, progress + next) }
  let reveal = s.detail.map { $0.record.id == a.caseID && ($0.blinded || $0.modelHidden) } ?? false
  // Labelled from the browser: its row reloads in place (badges, and what blinding now shows).
  let row: [Effect] =
    s.screen == .browser ? (s.pageRequest.map { [.loadPage($0), .countCases(s.filter)] } ?? []) : []
  return (s, progress + (reveal ? [.loadCase(a.caseID)] : []) + row)
}

/// A mask was saved (possibly merged with another window's edit): the editor, the open case and its browser row follow.
private func maskSaved(_ state: AppState, _ a: Annotation, pixels: Int, saved: Mask?, merged: Bool) -> (
  AppState, [Effect]
) {
  var s = state
  s.status =
    merged
    ? StatusMessage(
      "Saved: mask of case #\(a.caseID) merged with a mask you saved in another window meanwhile "
        + "(\(pixels) nucleus pixels; both edits kept)", .info)
    : StatusMessage("Saved: mask of case #\(a.caseID) (\(pixels) nucleus pixels)", .ok)
  if var editor = s.editor, editor.caseID == a.caseID, let saved {
    editor.base = MaskEditBase(annotationID: a.id, mask: saved)
    if merged { editor.adoptMerged(saved) }
    s.editor = editor
  }
  if let id = a.maskID { s.maskPixels[id] = pixels }
  if var d = s.detail, d.record.id == a.caseID {
    d.mine = a
    s.detail = d
    s.history.insert(a, at: 0)
  }
  if var page = s.page, let i = page.rows.firstIndex(where: { $0.id == a.caseID }) {
    page.rows[i].myMask = a.maskID != nil
    s.page = page
  }
  return (s, [])
}

private func handleKey(_ state: AppState, _ key: KeyPress) -> (AppState, [Effect]) {
  var s = state
  if s.tooSmall {
    if key == KeyPress("q") || key == KeyPress("c", .control) {
      s.quitting = true
      return (s, [.quit])
    }
    return (s, [])
  }
  if let text = s.searchInput { return searchInputKey(s, text, key) }
  if s.showHelp { return helpKey(s, key) }
  if let typed = sessionTextKey(s, key) { return typed }
  if let answer = retrainConfirmKey(s, key) { return answer }
  if let answer = confirmAcceptKey(s, key) { return answer }
  if let answer = sessionPickerKey(s, key) { return answer }
  guard let action = KeyMap.action(for: key, in: s) else { return (s, []) }
  s.status = nil
  if let refusal = readOnlyRefusal(s, action) {
    s.status = refusal
    return (s, [])
  }
  if case .zoom(let z) = action {
    // In the mask editor the cursor is where the work is: zoom towards it.
    let point = s.editor.map { e in
      ((Double(e.cursorX) + 0.5) / Double(e.width), (Double(e.cursorY) + 0.5) / Double(e.height))
    }
    return zoomAction(s, z, at: s.screen == .maskEditor ? point : nil)
  }
  if action == .toggleMaskOutline { return maskStyleAction(s) }
  if s.screen == .maskEditor, let effects = editorAction(&s, action) { return (s, effects) }
  if sessionScreens.contains(s.screen), let effects = sessionScreenAction(&s, action) { return (s, effects) }
  if s.screen == .models, let effects = modelScreenAction(&s, action) { return (s, effects) }
  switch action {
  case .quit:
    s.quitting = true
    return (s, [.quit])
  case .help:
    s.showHelp = true
    s.helpPage = 0
    return (s, [])
  case .back:
    s.screen = .browser
    s.detail = nil
    return (s, [])
  case .editMask:
    guard let d = s.detail else { return (s, []) }
    return (s, [.loadMask(d.record.id)])
  case .cursor, .pen, .toggleEraser, .smallerBrush, .largerBrush, .floodFill, .deleteNucleus,
    .acceptModelMask, .acceptReferenceMask,
    .clearMask, .undo, .redo:
    return (s, [])
  case .session(let a):
    return sessionAction(s, a)
  case .retrain(let a):
    return retrainAction(s, a)
  case .explain(let a):
    return explainAction(s, a)
  case .up: return moveSelection(s, by: -s.grid.across)
  case .down: return moveSelection(s, by: s.grid.across)
  case .left: return moveSelection(s, by: -1)
  case .right: return moveSelection(s, by: 1)
  case .pageDown, .pageUp, .firstPage:
    return pageAction(s, action)
  case .open:
    guard let row = s.selectedRow else { return (s, []) }
    return (s, [.loadCase(row.id)])
  case .search:
    s.searchInput = s.filter.search ?? ""
    return (s, [])
  case .toggleUnreviewed, .toggleDisagreement, .toggleAdjudicated, .cycleMyLabelFilter, .cyclePredictedFilter,
    .cycleSplitFilter, .toggleLowConfidence, .cycleSort, .reverseSort, .clearFilters,
    .togglePossiblyMalignant:
    return filterAction(s, action)
  case .setLabel, .acceptPrediction, .toggleAdvance:
    return labelAction(s, action)
  case .zoom, .toggleMaskOutline:
    return (s, [])
  case .largerThumbnails, .smallerThumbnails:
    return thumbnailSizeAction(s, larger: action == .largerThumbnails)
  case .nextCase, .previousCase:
    return stepCase(s, forward: action == .nextCase)
  }
}

/// A key while the search line is being typed: Enter applies it, Esc drops it.
private func searchInputKey(_ state: AppState, _ typed: String, _ key: KeyPress) -> (AppState, [Effect]) {
  var s = state
  var text = typed
  switch key.key {
  case .enter:
    s.searchInput = nil
    s.filter.search = text.isEmpty ? nil : text
    return reload(s)
  case .escape:
    s.searchInput = nil
    return (s, [])
  case .backspace:
    if !text.isEmpty { text.removeLast() }
    s.searchInput = text
    return (s, [])
  case .character(let c) where key.modifiers.isDisjoint(with: [.control, .alt]):
    if text.count < 80 { text.append(c) }
    s.searchInput = Sanitizer.sanitize(text)
    return (s, [])
  default:
    return (s, [])
  }
}

/// A key while the help is shown: turns its page or closes it.
private func helpKey(_ state: AppState, _ key: KeyPress) -> (AppState, [Effect]) {
  var s = state
  // Space or PgDn turns to the help's next page while there is one; any other key closes it
  // (`?` and Esc are the documented ones).
  if key == KeyPress(" ") || key == KeyPress(.pageDown), s.helpPage + 1 < View.helpPaging(s).pages {
    s.helpPage += 1
    return (s, [])
  }
  s.showHelp = false
  s.helpPage = 0
  if KeyMap.action(for: key, in: s) == .quit {
    s.quitting = true
    return (s, [.quit])
  }
  return (s, [])
}

/// Turns the browser's page.
private func pageAction(_ state: AppState, _ action: Action) -> (AppState, [Effect]) {
  var s = state
  switch action {
  case .pageDown:
    guard let next = s.page?.next else {
      s.status = StatusMessage("Last page")
      return (s, [])
    }
    s.pageNumber += 1
    s.selection = 0
    return (s, [.loadPage(pageRequest(s, cursor: next, backward: false))])
  case .pageUp:
    guard let previous = s.page?.previous, s.pageNumber > 1 else {
      s.status = StatusMessage("First page")
      return (s, [])
    }
    s.pageNumber -= 1
    s.selection = 0
    return (s, [.loadPage(pageRequest(s, cursor: previous, backward: true))])
  case .firstPage:
    s.pageNumber = 1
    s.selection = 0
    return (s, [.loadPage(pageRequest(s, cursor: nil, backward: false))])
  default:
    return (s, [])
  }
}

/// Changes the browser's filter or sort order and reloads from the first page.
private func filterAction(_ state: AppState, _ action: Action) -> (AppState, [Effect]) {
  var s = state
  switch action {
  case .toggleUnreviewed:
    s.filter.unreviewed.toggle()
    return reload(s)
  case .toggleDisagreement:
    s.filter.disagreement.toggle()
    return reload(s)
  case .toggleAdjudicated:
    s.filter.adjudicated.toggle()
    return reload(s)
  case .cycleMyLabelFilter:
    s.filter.myLabel = cycle(s.filter.myLabel, through: s.schema.classNames)
    return reload(s)
  case .cyclePredictedFilter:
    s.filter.predictedLabel = cycle(s.filter.predictedLabel, through: s.schema.classNames)
    return reload(s)
  case .cycleSplitFilter:
    let splits: [Split?] = [nil, .train, .val, .test]
    let i = splits.firstIndex(of: s.filter.split) ?? 0
    s.filter.split = splits[(i + 1) % splits.count]
    return reload(s)
  case .toggleLowConfidence:
    s.filter.confidenceBelow = s.filter.confidenceBelow == nil ? KeyMap.lowConfidence : nil
    return reload(s)
  case .togglePossiblyMalignant:
    if s.filter.pMalignantAtLeast != nil {
      s.filter.pMalignantAtLeast = nil
      return reload(s)
    }
    guard s.schema.isHierarchical else {
      s.status = StatusMessage("No possibly-malignant filter: the label schema has no malignant group")
      return (s, [])
    }
    guard let point = s.screening else {
      s.status = StatusMessage("No possibly-malignant filter: no promoted model")
      return (s, [])
    }
    guard let t = point.threshold else {
      s.status = StatusMessage(
        "No possibly-malignant filter: model v\(point.modelVersion) has no screening operating point "
          + "(blastview eval --split val --set-operating-point 0.995 --min-specificity 0.95 chooses one)")
      return (s, [])
    }
    s.filter.pMalignantAtLeast = t
    return reload(s)
  case .cycleSort:
    let sorts: [CaseSort] = [.id, .confidence, .added]
    let i = sorts.firstIndex(of: s.sort) ?? 0
    s.sort = sorts[(i + 1) % sorts.count]
    return reload(s)
  case .reverseSort:
    s.ascending.toggle()
    return reload(s)
  case .clearFilters:
    s.filter = CaseFilter()
    return reload(s)
  default:
    return (s, [])
  }
}

/// Opens the next or previous case, turning the page when the step leaves it.
func stepCase(_ state: AppState, forward: Bool) -> (AppState, [Effect]) {
  var s = state
  guard let rows = s.page?.rows, !rows.isEmpty else { return (s, []) }
  let step = forward ? 1 : -1
  let target = s.selection + step
  if target >= 0 && target < rows.count {
    s.selection = target
    return (s, [.loadCase(rows[target].id)])
  }
  if step > 0, let next = s.page?.next {
    s.pageNumber += 1
    s.openAfterLoad = .first
    return (s, [.loadPage(pageRequest(s, cursor: next, backward: false))])
  }
  if step < 0, let previous = s.page?.previous, s.pageNumber > 1 {
    s.pageNumber -= 1
    s.openAfterLoad = .last
    return (s, [.loadPage(pageRequest(s, cursor: previous, backward: true))])
  }
  s.status = StatusMessage(step > 0 ? "This is the last case" : "This is the first case")
  return (s, [])
}

/// Ends a stroke in progress (pen up); the visit then holds its change until it ends.
private func finishStroke(_ s: inout AppState) {
  guard var editor = s.editor, editor.strokeActive else { return }
  if editor.penUp() != nil { editor.changedInVisit = true }
  s.editor = editor
}

/// Ends the editing visit (Esc, quit, a termination signal): a stroke in progress ends, and a
/// visit that changed the mask is saved once, as one history entry (issue 18).
private func endEditingVisit(_ s: inout AppState) -> [Effect] {
  finishStroke(&s)
  guard let editor = s.editor, editor.changedInVisit else { return [] }
  // Nothing to record when the visit ends where my saved mask is, or empty where it began empty.
  if let saved = editor.base.mask, saved == editor.mask { return [] }
  if editor.base.mask == nil, editor.start == .empty, editor.nucleusPixels == 0 { return [] }
  return maskSaveEffects(&s, caseID: editor.caseID, mask: editor.mask)
}

/// The mask editor's actions; nil for the ones it shares with other screens (help).
private func editorAction(_ s: inout AppState, _ action: Action) -> [Effect]? {
  guard var editor = s.editor else { return nil }
  var changed: Mask? = nil
  switch action {
  case .quit:
    let save = endEditingVisit(&s)
    s.quitting = true
    return save + [.quit]
  case .back:
    let save = endEditingVisit(&s)
    s.editor = nil
    return save + leaveMaskEditor(&s)
  case .help:
    return nil
  case .cursor(let dx, let dy):
    editor.move(dx: dx, dy: dy)
    // A zoomed view follows the cursor.
    s.zoom.keepVisible(x: editor.cursorX, y: editor.cursorY, width: editor.width, height: editor.height)
  case .pen:
    if editor.strokeActive { changed = editor.penUp() } else { editor.penDown() }
  case .toggleEraser:
    editor.tool = editor.tool == .paint ? .erase : .paint
    s.status = StatusMessage(editor.tool == .paint ? "Brush" : "Eraser")
  case .smallerBrush: editor.setRadius(editor.radius - 1)
  case .largerBrush: editor.setRadius(editor.radius + 1)
  case .floodFill: changed = editor.floodFill()
  case .deleteNucleus:
    changed = editor.deleteComponent()
    if changed == nil { s.status = StatusMessage("No nucleus under the cursor") }
  case .acceptModelMask:
    guard let model = s.modelMask else {
      s.status = StatusMessage("No model mask for this case", .error)
      return []
    }
    changed = editor.replace(with: model)
    // Taking the model's mask as it is counts as an edit: the visit records it.
    editor.changedInVisit = true
  case .acceptReferenceMask:
    guard let reference = s.referenceMask else {
      s.status = StatusMessage("No reference mask for this case", .error)
      return []
    }
    changed = editor.replace(with: reference)
    editor.changedInVisit = true
  case .clearMask: changed = editor.replace(with: Mask(width: editor.width, height: editor.height))
  case .undo:
    changed = editor.undo()
    if changed == nil { s.status = StatusMessage("Nothing to undo") }
  case .redo:
    changed = editor.redo()
    if changed == nil { s.status = StatusMessage("Nothing to redo") }
  default:
    return []
  }
  if changed != nil { editor.changedInVisit = true }
  s.editor = editor
  return []
}

/// Where a mouse position falls in the case image's view (case view and mask editor), as
/// fractions of the view, or nil outside the image.
func viewFraction(at mouse: MouseEvent, in s: AppState, width: Int, height: Int) -> (Double, Double)? {
  let rect = View.caseImageRect(s)
  let v = s.zoom.visible(width: width, height: height)
  let fit = ImageFit.fit(
    sourceWidth: v.width, sourceHeight: v.height, columns: rect.columns, rows: rect.rows,
    cellWidth: s.cellWidth, cellHeight: s.cellHeight, backend: .sixel(colors: 2))
  let px = mouse.pixelX ?? (mouse.column * s.cellWidth + s.cellWidth / 2)
  let py = mouse.pixelY ?? (mouse.row * s.cellHeight + s.cellHeight / 2)
  let rx = px - rect.column * s.cellWidth
  let ry = py - rect.row * s.cellHeight
  guard rx >= 0, ry >= 0, rx < fit.pixelWidth, ry < fit.pixelHeight else { return nil }
  return (Double(rx) / Double(fit.pixelWidth), Double(ry) / Double(fit.pixelHeight))
}

/// The image pixel under a mouse position in the mask editor, or nil outside the image.
func imagePixel(at mouse: MouseEvent, in s: AppState) -> (x: Int, y: Int)? {
  guard let editor = s.editor,
    let (fx, fy) = viewFraction(at: mouse, in: s, width: editor.width, height: editor.height)
  else { return nil }
  return s.zoom.imagePixel(fx: fx, fy: fy, width: editor.width, height: editor.height)
}

/// The mouse wheel over a case image zooms in or out at the pointer.
private func wheelZoom(_ s: AppState, _ mouse: MouseEvent) -> (AppState, [Effect])? {
  guard mouse.kind == .wheelUp || mouse.kind == .wheelDown else { return nil }
  let size: (Int, Int)? =
    s.screen == .maskEditor
    ? s.editor.map { ($0.width, $0.height) } : s.detail.map { ($0.record.width, $0.record.height) }
  var point: (Double, Double)? = nil
  if s.screen != .adjudication, let (w, h) = size,
    let (fx, fy) = viewFraction(at: mouse, in: s, width: w, height: h)
  {
    let v = s.zoom.visible(width: w, height: h)
    point = (
      (Double(v.x) + fx * Double(v.width)) / Double(w), (Double(v.y) + fy * Double(v.height)) / Double(h)
    )
  }
  return zoomAction(s, mouse.kind == .wheelUp ? .zoomIn : .zoomOut, at: point)
}

private func handleMouse(_ state: AppState, _ mouse: MouseEvent) -> (AppState, [Effect]) {
  var s = state
  guard !s.tooSmall, !s.showHelp else { return (s, []) }
  if [.caseView, .maskEditor, .adjudication].contains(s.screen), let zoomed = wheelZoom(s, mouse) {
    return zoomed
  }
  if s.screen == .maskEditor, var editor = s.editor {
    // Drag to paint: press puts the pen down, motion paints, release ends (and saves) the stroke.
    switch mouse.kind {
    case .press where mouse.button == .left:
      guard let p = imagePixel(at: mouse, in: s) else { return (s, []) }
      editor.moveTo(x: p.x, y: p.y)
      editor.penDown()
      s.editor = editor
      return (s, [])
    case .drag:
      guard editor.strokeActive, let p = imagePixel(at: mouse, in: s) else { return (s, []) }
      editor.moveTo(x: p.x, y: p.y)
      s.editor = editor
      return (s, [])
    case .release:
      // The stroke ends before the state is returned: `(s, finishStroke(&s))` would hand back
      // the copy taken before the pen lifted (issue 18: "Pen: down", undo 0 after a drag).
      finishStroke(&s)
      return (s, [])
    default:
      return (s, [])
    }
  }
  guard s.screen == .browser else { return (s, []) }
  switch mouse.kind {
  case .wheelDown: return handleKey(s, KeyPress(.down))
  case .wheelUp: return handleKey(s, KeyPress(.up))
  case .press where mouse.button == .left:
    guard let index = View.tileIndex(at: CellPosition(row: mouse.row, column: mouse.column), in: s),
      let rows = s.page?.rows, index < rows.count
    else { return (s, []) }
    if index == s.selection { return (s, [.loadCase(rows[index].id)]) }  // a second click opens
    s.selection = index
    return (s, [])
  default:
    return (s, [])
  }
}

private func moveSelection(_ state: AppState, by delta: Int) -> (AppState, [Effect]) {
  var s = state
  guard let count = s.page?.rows.count, count > 0 else { return (s, []) }
  let target = s.selection + delta
  if target >= count, s.page?.next != nil { return handleKeyAction(s, .pageDown) }
  if target < 0, s.pageNumber > 1 { return handleKeyAction(s, .pageUp) }
  s.selection = max(0, min(count - 1, target))
  return (s, [])
}

private func handleKeyAction(_ state: AppState, _ action: Action) -> (AppState, [Effect]) {
  let key = KeyMap.browser.first { $0.action == action }!.keys[0]
  return handleKey(state, key)
}

/// A filter change starts again from the first page and recounts.
private func reload(_ state: AppState) -> (AppState, [Effect]) {
  var s = state
  s.pageNumber = 1
  s.selection = 0
  s.matching = nil
  return (s, [.loadPage(pageRequest(s, cursor: nil, backward: false)), .countCases(s.filter)])
}

private func cycle(_ current: String?, through names: [String]) -> String? {
  guard let current, let i = names.firstIndex(of: current) else { return names.first }
  return i + 1 < names.count ? names[i + 1] : nil
}
