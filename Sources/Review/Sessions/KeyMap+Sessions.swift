import Terminal

/// The keys of the session, triage and adjudication screens, and the ones they add to the
/// browser and the case view. Part of the key map: `update` looks them up there and the help
/// overlay lists them.
extension KeyMap {
  /// In the browser and the case view: the agreement dashboard and the triage queue.
  static let sessionKeys: [KeyBinding] = [
    KeyBinding(
      keys: [KeyPress("A")], action: .session(.openDashboard), help: "agreement dashboard of the session"),
    KeyBinding(
      keys: [KeyPress("!")], action: .session(.openTriage), help: "triage: disagreements to adjudicate"),
  ]

  /// In the case view: overlays on the image.
  static let overlayKeys: [KeyBinding] = [
    KeyBinding(keys: [KeyPress("M")], action: .session(.toggleModelMask), help: "overlay: the model's mask"),
    KeyBinding(keys: [KeyPress("y")], action: .session(.toggleMyMask), help: "overlay: my mask"),
    KeyBinding(
      keys: [KeyPress("o")], action: .session(.cycleOtherMasks),
      help: "overlay: other raters' masks (cycles)"),
    maskStyleKey,
  ]

  public static let dashboard: [KeyBinding] =
    [
      KeyBinding(keys: [KeyPress(.tab)], action: .session(.nextPair), help: "heatmap: next pair of raters"),
      KeyBinding(
        keys: [KeyPress("C")], action: .session(.closeSession),
        help: "close the session (its creator; confirms)"),
      KeyBinding(keys: [KeyPress("!")], action: .session(.openTriage), help: "triage: disagreements"),
      KeyBinding(keys: [KeyPress(.escape)], action: .back, help: "back"),
    ] + common

  public static let triage: [KeyBinding] =
    [
      KeyBinding(keys: [KeyPress(.up), KeyPress("k")], action: .up, help: "previous case"),
      KeyBinding(keys: [KeyPress(.down), KeyPress("j")], action: .down, help: "next case"),
      KeyBinding(keys: [KeyPress(.pageDown), KeyPress(" ")], action: .pageDown, help: "next page"),
      KeyBinding(keys: [KeyPress(.pageUp), KeyPress("b")], action: .pageUp, help: "previous page"),
      KeyBinding(keys: [KeyPress(.home), KeyPress("g")], action: .firstPage, help: "first case"),
      KeyBinding(keys: [KeyPress(.enter)], action: .open, help: "adjudicate the case (adjudicators)"),
      KeyBinding(
        keys: [KeyPress("[")], action: .session(.lowerThreshold), help: "lower the low-confidence threshold"),
      KeyBinding(
        keys: [KeyPress("]")], action: .session(.raiseThreshold), help: "raise the low-confidence threshold"),
      KeyBinding(keys: [KeyPress(.escape)], action: .back, help: "back"),
    ] + common

  /// The adjudication screen's keys; the final label keys come from the schema.
  public static func adjudication(schema labels: [(key: String, name: String)]) -> [KeyBinding] {
    labels.map {
      KeyBinding(
        keys: [KeyPress(Character($0.key))], action: .setLabel($0.key), help: "final label: \($0.name)")
    }
      + [
        KeyBinding(
          keys: [KeyPress(.left), KeyPress("h")], action: .left, help: "previous rater (or the model)"),
        KeyBinding(
          keys: [KeyPress(.right), KeyPress("l")], action: .right, help: "next rater (or the model)"),
        KeyBinding(keys: [KeyPress("t")], action: .session(.takeMask), help: "take the selected one's mask"),
        KeyBinding(
          keys: [KeyPress("m")], action: .session(.editFinalMask),
          help: "edit the final mask in the mask editor"),
        KeyBinding(keys: [KeyPress("x")], action: .session(.noFinalMask), help: "no final mask"),
        KeyBinding(keys: [KeyPress("r")], action: .session(.editReason), help: "type the reason"),
        KeyBinding(keys: [KeyPress(.enter)], action: .session(.record), help: "record the adjudication"),
        KeyBinding(keys: [KeyPress(.escape)], action: .back, help: "back to the queue (nothing recorded)"),
      ] + zoomKeys + panKeys + [maskStyleKey] + common
  }
}
