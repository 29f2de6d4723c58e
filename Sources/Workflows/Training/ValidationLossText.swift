import Foundation
import MTACNN

/// What an epoch's validation loss stands on (issue 18, item 5). A retrain that trained
/// segmentation while no validation case had a mask printed "val loss 0.0000" every epoch: the
/// mask loss over no masks is 0, not a perfect fit. A trained task with nothing to validate on
/// shows as its metric missing (`EpochRecord.validationDice` is nil exactly when no validation
/// example has a mask, `validationMacroF1` when none has a label), so the loss is said in words
/// a clinician reads: "no validation masks", never a fake 0.0000. Used by `blastview train`'s
/// epoch lines, a retraining job's log and the curves the model screen draws.
public enum ValidationLossText {
  /// The trained tasks the validation data had nothing for, in task order.
  public static func unvalidated(_ r: EpochRecord, trained: Set<ModelTask>) -> [ModelTask] {
    guard r.validationLoss != nil else { return [] }
    return trained.sorted().filter {
      $0 == .cls ? r.validationMacroF1 == nil : r.validationDice == nil
    }
  }

  /// Why the validation loss of `tasks` means nothing, in words: "no validation masks", "no
  /// labelled validation cases", or both.
  public static func reason(_ tasks: [ModelTask]) -> String {
    let parts = tasks.map { $0 == .cls ? "labelled validation cases" : "validation masks" }
    return "no " + parts.joined(separator: " and no ")
  }

  /// The validation loss when it measures every trained task; nil when it measures none of
  /// them (nothing to validate on) or there is no validation data.
  public static func meaningfulLoss(_ r: EpochRecord, trained: Set<ModelTask>) -> Double? {
    let missing = unvalidated(r, trained: trained)
    return missing.count < trained.count ? r.validationLoss : nil
  }

  /// The epoch line's validation part: "val loss 0.4123"; "val loss 0.4123 (classification
  /// only: no validation masks)" when one of two trained tasks had nothing to validate on;
  /// "val loss: none (no validation masks)" when no trained task had; nil without validation
  /// data (nothing was validated, and the line says nothing about it, as before).
  public static func text(_ r: EpochRecord, trained: Set<ModelTask>) -> String? {
    guard let loss = r.validationLoss else { return nil }
    let missing = unvalidated(r, trained: trained)
    if missing.isEmpty { return String(format: "val loss %.4f", loss) }
    let measured = trained.sorted().filter { !missing.contains($0) }
    if measured.isEmpty { return "val loss: none (\(reason(missing)))" }
    return String(format: "val loss %.4f", loss)
      + " (\(measured.map(\.title).joined(separator: ", ")) only: \(reason(missing)))"
  }
}
