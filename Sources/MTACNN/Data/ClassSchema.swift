/// The classes a model predicts, in schema order, and whether they form a hierarchy (one negative
/// class and malignant subtypes: the hierarchical head of DESIGN §4) or a flat set (softmax head).
public struct ClassSchema: Equatable, Sendable, Codable {
  public var name: String
  public var classes: [String]
  /// Hierarchical schemas: `classes[0]` is the negative class, the rest are subtypes of "malignant".
  public var hierarchical: Bool
  /// Folder names accepted for a class besides its own name, compared case-insensitively.
  public var aliases: [String: [String]]

  public init(name: String, classes: [String], hierarchical: Bool, aliases: [String: [String]] = [:]) {
    self.name = name
    self.classes = classes
    self.hierarchical = hierarchical
    self.aliases = aliases
  }

  /// Aria ALL: Benign (hematogones) and the B-ALL subtypes; folders as in the Kaggle layout.
  public static let all4 = ClassSchema(
    name: "all4", classes: ["Benign", "Early", "Pre", "Pro"], hierarchical: true,
    aliases: [
      "Benign": ["benign", "hematogones"],
      "Early": ["early", "early pre-b", "[malignant] early pre-b"],
      "Pre": ["pre", "pre-b", "[malignant] pre-b"],
      "Pro": ["pro", "pro-b", "[malignant] pro-b"],
    ])

  /// wbc-seg's five white-cell types (labels 1...5 of Dataset1-labels.csv, in that order).
  public static let wbc5 = ClassSchema(
    name: "wbc5", classes: ["neutrophil", "lymphocyte", "monocyte", "eosinophil", "basophil"],
    hierarchical: false)

  public static func named(_ name: String) -> ClassSchema? {
    switch name {
    case "all4": return .all4
    case "wbc5": return .wbc5
    default: return nil
    }
  }

  /// The class a folder stands for, or nil.
  public func classIndex(forFolder folder: String) -> Int? {
    let f = folder.lowercased()
    return classes.firstIndex { c in
      c.lowercased() == f || (aliases[c] ?? []).contains(f)
    }
  }

  /// Benign-vs-malignant group of a class index (0 negative, 1 malignant); nil for a flat schema.
  public func binaryGroup(_ classIndex: Int) -> Int? {
    hierarchical ? (classIndex == 0 ? 0 : 1) : nil
  }
}
