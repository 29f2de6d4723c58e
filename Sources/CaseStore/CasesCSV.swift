import Foundation

/// `cases.csv` (issue 18): one row per case with everything a study needs in one table: the
/// reference label from import, the promoted model's prediction and its probability, each
/// rater's current label (a column per rater), and the final label with where it came from.
///
/// The final label is, in order: the newest adjudication (`adjudication`); else the raters'
/// label when at least two raters labelled the case and all agree (`agreement`); else the
/// reference label (`reference`); else empty (source `none`). Blinding applies to the viewer
/// as everywhere: what the viewer may not see is left empty.
public struct CasesCSVSummary: Sendable, Equatable, Codable {
  public var path: String
  public var cases: Int
  public var raters: [String]
}

extension CaseStore {
  /// The final label of a case from what `detail` shows, and its source (see the type's doc).
  public static func finalLabel(_ detail: CaseDetail) -> (label: String?, source: String) {
    if let a = detail.adjudication { return (a.label, "adjudication") }
    let labels = detail.current.compactMap(\.label)
    if labels.count >= 2, Set(labels).count == 1 { return (labels[0], "agreement") }
    if let r = detail.record.referenceLabel { return (r, "reference") }
    return (nil, "none")
  }
}
