import Terminal

/// The retraining keys of the browser and the case view, and the model screen's keys.
extension KeyMap {
  static let retrainKeys: [KeyBinding] = [
    KeyBinding(
      keys: [KeyPress("T")], action: .retrain(.queue),
      help: "retrain on the corrections (background)"),
    KeyBinding(
      keys: [KeyPress("V")], action: .retrain(.openModels),
      help: "model versions, curves, promote, roll back"),
  ]

  public static let models: [KeyBinding] =
    [
      KeyBinding(keys: [KeyPress(.up), KeyPress("k")], action: .up, help: "previous version"),
      KeyBinding(keys: [KeyPress(.down), KeyPress("j")], action: .down, help: "next version"),
      KeyBinding(keys: [KeyPress(.home), KeyPress("g")], action: .firstPage, help: "newest version"),
      KeyBinding(
        keys: [KeyPress("p")], action: .retrain(.promoteSelected),
        help: "promote the selected version (confirms)"),
      KeyBinding(
        keys: [KeyPress("R")], action: .retrain(.rollback),
        help: "roll back to the parent version (confirms)"),
      KeyBinding(keys: [KeyPress("T")], action: .retrain(.queue), help: "retrain on the corrections"),
      KeyBinding(keys: [KeyPress(.escape)], action: .back, help: "back"),
    ] + common
}
