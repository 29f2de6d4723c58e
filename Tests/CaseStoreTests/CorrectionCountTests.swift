import Foundation
import Imaging
import Testing

@testable import CaseStore

/// Issue 18, item 5: "68 label, 10 mask corrections" counted every stroke, undo and conflicting
/// entry when 3 cases really had masks. Corrections are counted per case.
@Suite struct CorrectionCountTests {
  @Test func correctionsAreCountedPerCaseNotPerEntry() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 4)
    // Case 1: a mask drawn in five strokes, undone once and redone, and relabelled twice.
    for size in 1...5 {
      try store.annotate(case: 1, rater: "ana", mask: squareMask(8, 8, x: 0, y: 0, size: size))
    }
    try store.annotate(case: 1, rater: "ana", mask: squareMask(8, 8, x: 0, y: 0, size: 4))
    try store.annotate(case: 1, rater: "ana", mask: squareMask(8, 8, x: 0, y: 0, size: 5))
    try store.annotate(case: 1, rater: "ana", label: "Pre-B")
    try store.annotate(case: 1, rater: "ana", label: "Pro-B")
    // Case 2: two raters disagree, and an adjudicator decides with a mask.
    try store.annotate(case: 2, rater: "ana", label: "Benign")
    try store.annotate(case: 2, rater: "ben", label: "Early-B")
    _ = try store.addRater("lead", role: .adjudicator)
    _ = try store.adjudicate(
      case: 2, adjudicator: "lead", label: "Early-B", mask: squareMask(8, 8, x: 2, y: 2, size: 3),
      reason: "fine chromatin")
    // Case 3: one mask.
    try store.annotate(case: 3, rater: "ben", mask: squareMask(8, 8, x: 1, y: 1, size: 2))
    let c = try store.corrections(since: nil)
    #expect(c.labels == 2)  // cases 1 and 2
    #expect(c.masks == 3)  // cases 1, 2 and 3
    #expect(c.total == 5)
  }
}
