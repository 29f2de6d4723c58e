import Terminal

extension KeyMap {
  /// In the case view: why the model said what it did, and what it detected (issue 9).
  static let explanationKeys: [KeyBinding] = [
    KeyBinding(
      keys: [KeyPress("e")], action: .explain(.toggleExplanation),
      help: "explanation overlay (Grad-CAM, then LIME)"),
    KeyBinding(
      keys: [KeyPress("d")], action: .explain(.toggleDetections), help: "nucleus boxes and count (NMS)"),
  ]
}
