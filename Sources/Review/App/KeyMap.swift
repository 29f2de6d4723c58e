import Terminal

/// Everything a key can do. The key map below is the single source of truth: `update`
/// looks actions up in it, and the help overlay is generated from it.
public enum Action: Equatable, Hashable, Sendable {
  case quit, help, back
  case up, down, left, right, pageDown, pageUp, firstPage
  case open
  case search, toggleUnreviewed, toggleDisagreement, toggleAdjudicated, cycleMyLabelFilter,
    cyclePredictedFilter
  case cycleSplitFilter, toggleLowConfidence, cycleSort, reverseSort, clearFilters
  /// The screening filter: P(malignant) at or above the promoted model's operating point.
  case togglePossiblyMalignant
  /// Set my label to the schema class with this key (`1`–`4` for all4).
  case setLabel(String)
  case acceptPrediction
  /// Browser: bigger or smaller thumbnails. Case view: whether a label opens the next case.
  case largerThumbnails, smallerThumbnails, toggleAdvance
  case nextCase, previousCase
  case editMask
  // Mask editor.
  case cursor(dx: Int, dy: Int)
  case pen, toggleEraser, smallerBrush, largerBrush, floodFill, deleteNucleus, acceptModelMask,
    acceptReferenceMask
  case clearMask, undo, redo
  /// Sessions, triage, adjudication and the case view's overlays (`Screens/`).
  case session(SessionAction)
  /// Retraining and the model screen (`Retraining.swift`).
  case retrain(RetrainAction)
  /// The case view's explanation overlay and nucleus boxes (`Screens/Explanation*.swift`).
  case explain(ExplainAction)
  /// Zoom and pan of the case image (`CaseView/Zoom.swift`).
  case zoom(ZoomAction)
  /// Mask overlays as fills or outlines (`CaseView/MaskOutline.swift`).
  case toggleMaskOutline
}

/// One binding: the keys, the action, and what the help overlay says.
public struct KeyBinding: Equatable, Sendable {
  public var keys: [KeyPress]
  public var action: Action
  public var help: String
}

/// The key map of each screen.
public enum KeyMap {
  /// The confidence below which a prediction counts as low (the `L` filter and flag).
  public static let lowConfidence = 0.6

  static let common: [KeyBinding] = [
    KeyBinding(keys: [KeyPress("?")], action: .help, help: "show or hide this help"),
    KeyBinding(
      keys: [KeyPress("q"), KeyPress("c", .control)], action: .quit,
      help: "quit (everything is already saved)"),
  ]

  public static let browser: [KeyBinding] =
    [
      KeyBinding(keys: [KeyPress(.up), KeyPress("k")], action: .up, help: "move up"),
      KeyBinding(keys: [KeyPress(.down), KeyPress("j")], action: .down, help: "move down"),
      KeyBinding(keys: [KeyPress(.left), KeyPress("h")], action: .left, help: "move left"),
      KeyBinding(keys: [KeyPress(.right), KeyPress("l")], action: .right, help: "move right"),
      KeyBinding(keys: [KeyPress(.pageDown), KeyPress(" ")], action: .pageDown, help: "next page"),
      KeyBinding(keys: [KeyPress(.pageUp), KeyPress("b")], action: .pageUp, help: "previous page"),
      KeyBinding(keys: [KeyPress(.home), KeyPress("g")], action: .firstPage, help: "first page"),
      KeyBinding(keys: [KeyPress(.enter)], action: .open, help: "open the case"),
      KeyBinding(keys: [KeyPress("/")], action: .search, help: "search by case id or file name"),
      KeyBinding(keys: [KeyPress("u")], action: .toggleUnreviewed, help: "filter: unreviewed by me"),
      KeyBinding(keys: [KeyPress("D")], action: .toggleDisagreement, help: "filter: raters disagree"),
      KeyBinding(
        keys: [KeyPress("F")], action: .toggleAdjudicated, help: "filter: adjudicated (a final label is set)"),
      KeyBinding(
        keys: [KeyPress("m")], action: .cycleMyLabelFilter, help: "filter: my label (cycles classes)"),
      KeyBinding(
        keys: [KeyPress("P")], action: .cyclePredictedFilter, help: "filter: predicted class (cycles)"),
      KeyBinding(keys: [KeyPress("t")], action: .cycleSplitFilter, help: "filter: split (train/val/test)"),
      KeyBinding(keys: [KeyPress("L")], action: .toggleLowConfidence, help: "filter: confidence below 0.6"),
      KeyBinding(
        keys: [KeyPress("*")], action: .togglePossiblyMalignant,
        help: "filter: possibly malignant (screening)"),
      KeyBinding(keys: [KeyPress("s")], action: .cycleSort, help: "sort: id, confidence, date"),
      KeyBinding(keys: [KeyPress("r")], action: .reverseSort, help: "reverse the sort"),
      KeyBinding(keys: [KeyPress("c")], action: .clearFilters, help: "clear filters and search"),
      KeyBinding(keys: [KeyPress("+"), KeyPress("=")], action: .largerThumbnails, help: "larger thumbnails"),
      KeyBinding(keys: [KeyPress("-")], action: .smallerThumbnails, help: "smaller thumbnails"),
    ] + sessionKeys + retrainKeys + common

  /// The browser's bindings and the schema's label keys: a number key labels the selected
  /// case without opening it (issue 18, item 8).
  public static func browser(schema labels: [(key: String, name: String)]) -> [KeyBinding] {
    browser
      + labels.map {
        KeyBinding(
          keys: [KeyPress(Character($0.key))], action: .setLabel($0.key),
          help: "label the selected case \($0.name)")
      }
  }

  /// The case view's bindings; the label keys come from the schema.
  public static func caseView(schema labels: [(key: String, name: String)]) -> [KeyBinding] {
    labels.map {
      KeyBinding(keys: [KeyPress(Character($0.key))], action: .setLabel($0.key), help: "my label: \($0.name)")
    }
      + [
        KeyBinding(
          keys: [KeyPress("a")], action: .acceptPrediction, help: "accept the model's prediction (asks first)"
        ),
        KeyBinding(keys: [KeyPress("m")], action: .editMask, help: "edit my nucleus mask"),
        KeyBinding(
          keys: [KeyPress("n"), KeyPress(.right)], action: .nextCase, help: "next case (browser order)"),
        KeyBinding(keys: [KeyPress("p"), KeyPress(.left)], action: .previousCase, help: "previous case"),
        KeyBinding(
          keys: [KeyPress(.escape), KeyPress(.backspace)], action: .back, help: "back to the browser"),
        KeyBinding(
          keys: [KeyPress("N")], action: .toggleAdvance, help: "after a label, open the next case: on/off"),
      ] + zoomKeys + panKeys + overlayKeys + explanationKeys + sessionKeys + retrainKeys + common
  }

  public static let maskEditor: [KeyBinding] =
    [
      KeyBinding(
        keys: [KeyPress(.left), KeyPress("h")], action: .cursor(dx: -1, dy: 0), help: "cursor left 1 pixel"),
      KeyBinding(
        keys: [KeyPress(.right), KeyPress("l")], action: .cursor(dx: 1, dy: 0), help: "cursor right 1 pixel"),
      KeyBinding(
        keys: [KeyPress(.up), KeyPress("k")], action: .cursor(dx: 0, dy: -1), help: "cursor up 1 pixel"),
      KeyBinding(
        keys: [KeyPress(.down), KeyPress("j")], action: .cursor(dx: 0, dy: 1), help: "cursor down 1 pixel"),
      KeyBinding(
        keys: [KeyPress(.left, .shift), KeyPress("H")], action: .cursor(dx: -8, dy: 0),
        help: "cursor left 8 pixels"),
      KeyBinding(
        keys: [KeyPress(.right, .shift), KeyPress("L")], action: .cursor(dx: 8, dy: 0),
        help: "cursor right 8 pixels"),
      KeyBinding(
        keys: [KeyPress(.up, .shift), KeyPress("K")], action: .cursor(dx: 0, dy: -8),
        help: "cursor up 8 pixels"),
      KeyBinding(
        keys: [KeyPress(.down, .shift), KeyPress("J")], action: .cursor(dx: 0, dy: 8),
        help: "cursor down 8 pixels"),
      KeyBinding(
        keys: [KeyPress(" ")], action: .pen, help: "pen down/up (lifting it saves the stroke)"),
      KeyBinding(keys: [KeyPress("e")], action: .toggleEraser, help: "switch between brush and eraser"),
      KeyBinding(keys: [KeyPress("[")], action: .smallerBrush, help: "smaller brush"),
      KeyBinding(keys: [KeyPress("]")], action: .largerBrush, help: "larger brush"),
      KeyBinding(keys: [KeyPress("f")], action: .floodFill, help: "flood-fill the region under the cursor"),
      KeyBinding(keys: [KeyPress("d")], action: .deleteNucleus, help: "delete the nucleus under the cursor"),
      KeyBinding(keys: [KeyPress("a")], action: .acceptModelMask, help: "accept the model's mask"),
      KeyBinding(
        keys: [KeyPress("r")], action: .acceptReferenceMask, help: "take the reference mask (from import)"),
      KeyBinding(keys: [KeyPress("c")], action: .clearMask, help: "clear the mask"),
      KeyBinding(keys: [KeyPress("u")], action: .undo, help: "undo"),
      KeyBinding(keys: [KeyPress("r", .control)], action: .redo, help: "redo"),
      KeyBinding(keys: [KeyPress(.escape)], action: .back, help: "back to the case view"),
    ] + zoomKeys + [maskStyleKey] + common

  /// In the case view, the mask editor and the adjudication: masks filled or as outlines.
  static let maskStyleKey = KeyBinding(
    keys: [KeyPress("O")], action: .toggleMaskOutline,
    help: "masks as outlines or filled")

  /// The bindings in force for `state`'s screen.
  public static func bindings(for state: AppState) -> [KeyBinding] {
    switch state.screen {
    case .browser: return browser(schema: state.schema.classes.map { ($0.key, $0.name) })
    case .caseView: return caseView(schema: state.schema.classes.map { ($0.key, $0.name) })
    case .maskEditor: return maskEditor
    case .dashboard: return dashboard
    case .triage: return triage
    case .adjudication: return adjudication(schema: state.schema.classes.map { ($0.key, $0.name) })
    case .models: return models
    }
  }

  /// The action `key` triggers on `state`'s screen, if any.
  public static func action(for key: KeyPress, in state: AppState) -> Action? {
    bindings(for: state).first { $0.keys.contains(key) }?.action
  }
}
