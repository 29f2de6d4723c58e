import FileSafety
import Foundation

/// The classes a workspace labels with: names, one-key shortcuts, display letters and an
/// optional two-level grouping (for `all4`, Benign against the three malignant subtypes,
/// which is the hierarchy the MTA-CNN head uses and the triage severity order).
///
/// A workspace's schema is fixed at `blastview init` and stored in the database
/// (`label_class` table), so every process agrees on it. The class order is the order of
/// the model's probability vector.
public struct LabelSchema: Sendable, Equatable, Codable {
  public struct LabelClass: Sendable, Equatable, Codable {
    /// The canonical name, as stored in annotations (`Pre-B`).
    public var name: String
    /// The one key that sets this label in the TUI (`3`).
    public var key: String
    /// The letter shown beside the colour, so a class is never shown by colour alone (`P`).
    public var letter: String
    /// The group this class belongs to (`Malignant`), or nil for a flat schema.
    public var group: String?
    /// Other spellings accepted from folder names, manifests and the CLI.
    public var aliases: [String]

    public init(name: String, key: String, letter: String, group: String? = nil, aliases: [String] = []) {
      self.name = name
      self.key = key
      self.letter = letter
      self.group = group
      self.aliases = aliases
    }
  }

  /// `all4`, `wbc5`, or the name given in a custom schema file.
  public var name: String
  public var classes: [LabelClass]
  /// Group names in order; the first is the non-malignant (negative) group when the
  /// schema is hierarchical. Empty for a flat schema.
  public var groups: [String]

  public init(name: String, classes: [LabelClass], groups: [String] = []) {
    self.name = name
    self.classes = classes
    self.groups = groups
  }

  public var classNames: [String] { classes.map(\.name) }
  public var isHierarchical: Bool { !groups.isEmpty }

  /// The class named `text`: by exact name, then case-insensitively by name or alias, with
  /// spaces, dashes, underscores and brackets ignored (`early_pre_b`, `[Malignant] Pre-B`).
  public func resolve(_ text: String) -> LabelClass? {
    if let exact = classes.first(where: { $0.name == text }) { return exact }
    let key = LabelSchema.normalise(text)
    guard !key.isEmpty else { return nil }
    return classes.first { c in
      LabelSchema.normalise(c.name) == key || c.aliases.contains { LabelSchema.normalise($0) == key }
    }
  }

  /// The class whose shortcut key is `key`.
  public func classForKey(_ key: String) -> LabelClass? { classes.first { $0.key == key } }

  /// The group of a class name, or nil.
  public func group(of name: String) -> String? { classes.first { $0.name == name }?.group }

  /// Lowercased letters and digits only: the comparison key for folder names and aliases.
  public static func normalise(_ text: String) -> String {
    String(
      text.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(Character.init))
  }

  // MARK: Built-in schemas

  /// Benign (hematogones) | Early-B, Pre-B, Pro-B: the four classes of the Aria ALL data
  /// and of MTA-CNN. Aliases cover the Kaggle layout (`Benign/Early/Pre/Pro`), the
  /// `[Malignant] early Pre-B` spelling and the usual dash/underscore variants.
  public static let all4 = LabelSchema(
    name: "all4",
    classes: [
      LabelClass(
        name: "Benign", key: "1", letter: "B", group: "Benign",
        aliases: ["hematogone", "hematogones", "haematogones", "benign hematogones"]),
      LabelClass(
        name: "Early-B", key: "2", letter: "E", group: "Malignant",
        aliases: ["early", "early pre-b", "early_pre_b", "[Malignant] early Pre-B", "malignant early"]),
      LabelClass(
        name: "Pre-B", key: "3", letter: "P", group: "Malignant",
        aliases: ["pre", "[Malignant] Pre-B", "malignant pre"]),
      LabelClass(
        name: "Pro-B", key: "4", letter: "R", group: "Malignant",
        aliases: ["pro", "[Malignant] Pro-B", "malignant pro"]),
    ],
    groups: ["Benign", "Malignant"])

  /// The five white-cell types of the `wbc-seg` crops in SampleData (flat, no grouping).
  public static let wbc5 = LabelSchema(
    name: "wbc5",
    classes: [
      LabelClass(name: "neutrophil", key: "1", letter: "N", aliases: ["neutrophils", "neu"]),
      LabelClass(name: "lymphocyte", key: "2", letter: "L", aliases: ["lymphocytes", "lym", "lymph"]),
      LabelClass(name: "monocyte", key: "3", letter: "M", aliases: ["monocytes", "mon", "mono"]),
      LabelClass(name: "eosinophil", key: "4", letter: "E", aliases: ["eosinophils", "eos"]),
      LabelClass(name: "basophil", key: "5", letter: "B", aliases: ["basophils", "bas", "baso"]),
    ])

  /// `all4`, `wbc5`, or a JSON schema file (see `load(path:)`).
  public static func named(_ spec: String) throws(StoreError) -> LabelSchema {
    switch spec.lowercased() {
    case "all4": return .all4
    case "wbc5": return .wbc5
    default: return try load(path: spec)
    }
  }

  /// Reads a custom schema from a small JSON file:
  ///
  /// ```json
  /// { "name": "myeloid3",
  ///   "groups": ["normal", "abnormal"],
  ///   "classes": [
  ///     {"name": "Normal", "key": "1", "letter": "N", "group": "normal", "aliases": ["norm"]},
  ///     {"name": "Blast", "key": "2", "letter": "B", "group": "abnormal"},
  ///     {"name": "Promyelocyte", "key": "3", "letter": "P", "group": "abnormal"} ] }
  /// ```
  /// `groups` and each class's `group` and `aliases` are optional.
  public static func load(path: String) throws(StoreError) -> LabelSchema {
    guard let data = try? Data(SafeFile.read(path, maxBytes: 16 << 20)) else {
      throw .invalidLabelSchema(
        path: path, reason: "cannot read the file (not `all4`, `wbc5` or a readable file)")
    }
    struct File: Decodable {
      var name: String?
      var groups: [String]?
      var classes: [Class]
      struct Class: Decodable {
        var name: String
        var key: String
        var letter: String
        var group: String?
        var aliases: [String]?
      }
    }
    let file: File
    do {
      file = try JSONDecoder().decode(File.self, from: data)
    } catch {
      throw .invalidLabelSchema(path: path, reason: "not a valid schema JSON file (\(jsonProblem(error)))")
    }
    let fallbackName = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    var groups = file.groups ?? []
    let classes = file.classes.map {
      LabelClass(
        name: $0.name.precomposedStringWithCanonicalMapping, key: $0.key, letter: $0.letter, group: $0.group,
        aliases: ($0.aliases ?? []).map(\.precomposedStringWithCanonicalMapping))
    }
    if groups.isEmpty {
      for g in classes.compactMap(\.group) where !groups.contains(g) { groups.append(g) }
    }
    let schema = LabelSchema(name: file.name ?? fallbackName, classes: classes, groups: groups)
    try schema.validate(source: path)
    return schema
  }

  /// Checks what the rest of BlastView relies on: at least two classes; names, keys and
  /// letters unique; single-character keys and letters; no control characters (names reach
  /// the terminal); no invisible, format or bidi characters and no two class names that look
  /// alike (`Confusables`); aliases not shared between classes; grouping all or nothing.
  public func validate(source: String) throws(StoreError) {
    func fail(_ reason: String) -> StoreError { .invalidLabelSchema(path: source, reason: reason) }
    guard classes.count >= 2 else { throw fail("needs at least two classes") }
    guard classes.count <= 36 else { throw fail("has \(classes.count) classes; at most 36 have keys") }
    var seenNames: Set<String> = []
    var seenKeys: Set<String> = []
    var seenLetters: Set<String> = []
    var aliasOwner: [String: String] = [:]
    for c in classes {
      for text in [c.name, c.key, c.letter] + c.aliases + (c.group.map { [$0] } ?? [])
      where text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
        throw fail("a class field contains a control character")
      }
      for text in [c.name, c.key, c.letter] + c.aliases + (c.group.map { [$0] } ?? []) {
        do { _ = try Confusables.normalisedName(text, what: "class field") } catch {
          throw fail(String(describing: error))
        }
      }
      if let other = Confusables.lookAlike(of: c.name, among: classes.map(\.name)) {
        throw fail("class names \"\(c.name)\" and \"\(other)\" look alike; rename one")
      }
      let n = LabelSchema.normalise(c.name)
      guard !n.isEmpty, c.name.count <= 40 else {
        throw fail("class name \"\(c.name)\" must have 1-40 characters with a letter or digit")
      }
      guard seenNames.insert(n).inserted else { throw fail("two classes are both named \"\(c.name)\"") }
      guard c.key.count == 1, c.key != " " else { throw fail("class \(c.name): key must be one character") }
      guard seenKeys.insert(c.key).inserted else { throw fail("key \"\(c.key)\" is used twice") }
      guard c.letter.count == 1, c.letter != " " else {
        throw fail("class \(c.name): letter must be one character")
      }
      guard seenLetters.insert(c.letter.uppercased()).inserted else {
        throw fail("letter \"\(c.letter)\" is used twice")
      }
    }
    for c in classes {
      for a in c.aliases {
        let k = LabelSchema.normalise(a)
        guard !k.isEmpty else { throw fail("class \(c.name) has an empty alias") }
        if let other = aliasOwner[k], other != c.name {
          throw fail("alias \"\(a)\" belongs to both \(other) and \(c.name)")
        }
        if seenNames.contains(k) && LabelSchema.normalise(c.name) != k {
          throw fail("alias \"\(a)\" of \(c.name) is another class's name")
        }
        aliasOwner[k] = c.name
      }
    }
    let grouped = classes.filter { $0.group != nil }.count
    if grouped != 0 && grouped != classes.count { throw fail("either every class has a group or none does") }
    for c in classes {
      if let g = c.group, !groups.contains(g) { throw fail("group \"\(g)\" is not listed") }
    }
    if !groups.isEmpty && grouped == 0 { throw fail("groups are listed but no class has one") }
  }
}

private func jsonProblem(_ error: any Error) -> String {
  switch error {
  case DecodingError.keyNotFound(let key, let ctx):
    return "missing \"\(key.stringValue)\" at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))"
  case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
    return "wrong type at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))"
  case DecodingError.dataCorrupted: return "malformed JSON"
  default: return "unreadable"
  }
}
