import CaseStore
import Terminal

/// Keys a label schema may not take (issue 15, item 12). A schema class key is bound on the
/// case view and the adjudication screen before their own keys, so a class keyed `q` would
/// record a label where the footer promises "q quit". The list is derived from the key maps
/// themselves, so a key added to any screen is reserved at once.
extension KeyMap {
  /// Every screen's bindings without the schema's label keys.
  static var fixedBindings: [(screen: String, bindings: [KeyBinding])] {
    [
      ("browser", browser), ("case view", caseView(schema: [])), ("mask editor", maskEditor),
      ("dashboard", dashboard), ("triage", triage), ("adjudication", adjudication(schema: [])),
      ("models", models),
    ]
  }

  /// Each character some screen binds without a modifier, with where and what for (the
  /// first binding found), e.g. `q` → "quit (everything is already saved) on the browser".
  public static var reservedKeys: [Character: String] {
    var out: [Character: String] = [:]
    for (screen, bindings) in fixedBindings {
      for b in bindings {
        for k in b.keys where k.modifiers.isEmpty {
          if case .character(let c) = k.key, out[c] == nil { out[c] = "\(b.help) on the \(screen)" }
        }
      }
    }
    return out
  }

  /// Refuses a schema whose class keys a screen already uses, naming the key and the class.
  public static func checkSchemaKeys(_ schema: LabelSchema) throws(StoreError) {
    let reserved = reservedKeys
    for c in schema.classes {
      guard let ch = c.key.first, c.key.count == 1, let use = reserved[ch] else { continue }
      throw StoreError.invalidInput(
        "label schema \(schema.name): class \(c.name) has the key \"\(c.key)\", which the review screens "
          + "use (\(use)); give it another key (digits are free)")
    }
  }
}
