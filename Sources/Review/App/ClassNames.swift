import CaseStore
import Foundation
import Terminal

/// How a class is named on screen (issue 18, item 7: "R is Pro-B and P Pre-B"; the wbc5 names
/// were cut to "neutrop…"): always the schema's display name, never its letter.
///
/// The one rule where space forces a shorter form: a name wider than its space is cut to its
/// first letters, as many as fit with a "." after them ("neutrophil" in 7 columns is
/// "neutro."), never fewer than three; if two classes would then read the same, each keeps one
/// letter more until they differ. Every screen that shortens a name shows (or `?` lists) the
/// short form with its full name.
public enum ClassNames {
  /// The fewest letters a shortened name keeps.
  public static let minimumLetters = 3

  /// Each class's name as shown in `width` columns: whole when it fits, else shortened by the
  /// rule; the result has no two classes alike.
  public static func fitted(_ names: [String], width: Int) -> [String] {
    var letters = names.map { name -> Int? in
      TextWidth.of(name) <= width ? nil : max(minimumLetters, width - 1)
    }
    func shown(_ i: Int) -> String {
      guard let n = letters[i] else { return names[i] }
      return n >= names[i].count ? names[i] : String(names[i].prefix(n)) + "."
    }
    // Lengthen the clashing short forms one letter at a time (bounded by the longest name).
    for _ in 0..<(names.map(\.count).max() ?? 0) {
      let forms = names.indices.map(shown)
      var clash = false
      for i in names.indices where letters[i] != nil {
        if forms.enumerated().contains(where: { $0.offset != i && $0.element == forms[i] }) {
          letters[i]! += 1
          clash = true
        }
      }
      if !clash { break }
    }
    return names.indices.map(shown)
  }

  /// One class name in `width` columns, shortened among the schema's others when needed.
  public static func fitted(_ name: String, in schema: LabelSchema, width: Int) -> String {
    guard let i = schema.classNames.firstIndex(of: name) else { return name }
    return fitted(schema.classNames, width: width)[i]
  }

  /// "neutro. = neutrophil · …" for the names `fitted` shortened; nil when none was.
  public static func legend(_ names: [String], shown: [String]) -> String? {
    let pairs = zip(shown, names).filter { $0.0 != $0.1 }.map { "\($0.0) = \($0.1)" }
    return pairs.isEmpty ? nil : pairs.joined(separator: " · ")
  }

  /// The widest name of a schema, in columns.
  public static func widest(_ schema: LabelSchema) -> Int {
    schema.classNames.map(TextWidth.of).max() ?? 0
  }
}
