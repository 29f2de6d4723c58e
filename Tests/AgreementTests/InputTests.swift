import Foundation
import Testing

@testable import Agreement

/// Long-form input, weights and the Landis & Koch scale.
@Suite struct InputTests {
  let all4 = ["Benign", "Early-B", "Pre-B", "Pro-B"]

  @Test func longRowsBuildTheTableInFirstAppearanceOrder() throws {
    let rows = [
      LongRating(item: "case2", rater: "bob", label: "Pre-B"),
      LongRating(item: "case1", rater: "ann", label: "Benign"),
      LongRating(item: "case2", rater: "ann", label: "Pro-B"),
      LongRating(item: "case1", rater: "bob", label: "Benign"),
      LongRating(item: "case3", rater: "cy", label: "Benign"),
    ]
    let t = try RatingTable(long: rows, categories: all4)
    #expect(t.items == ["case2", "case1", "case3"])
    #expect(t.raters == ["bob", "ann", "cy"])
    #expect(t.code(item: 0, rater: 0) == 2)
    #expect(t.code(item: 0, rater: 2) == nil)
    // Selecting raters skips the others' rows, and their items if nothing is left.
    let s = try RatingTable(long: rows, categories: all4, raters: ["ann", "bob"])
    #expect(s.raters == ["ann", "bob"])
    #expect(s.items == ["case2", "case1"])
    #expect(s.confusion(0, 1)[3, 2] == 1)
  }

  @Test func unknownLabelAndDuplicateRatingNameTheRow() {
    let rows = [
      LongRating(item: "x", rater: "a", label: "Benign"),
      LongRating(item: "x", rater: "a", label: "Benign"),
    ]
    #expect(throws: RatingInputError.duplicateRating(row: 1, firstRow: 0, item: "x", rater: "a")) {
      try RatingTable(long: rows, categories: all4)
    }
    #expect(throws: RatingInputError.unknownLabel(row: 0, label: "benign ", categories: all4)) {
      try RatingTable(long: [LongRating(item: "x", rater: "a", label: "benign ")], categories: all4)
    }
    #expect(throws: RatingInputError.duplicateCategory("A")) {
      try RatingTable(long: [], categories: ["A", "A"])
    }
  }

  @Test func clinicalWeightsFollowNamesInAnyOrder() throws {
    let w = try AgreementWeights.clinical(categories: all4)
    // Benign, Early-B, Pre-B, Pro-B; malignant ranks Pro-B 0 < Early-B 1 < Pre-B 2.
    #expect(
      w.values == [
        1, 0, 0, 0,
        0, 1, 0.5, 0.5,
        0, 0.5, 1, 0,
        0, 0.5, 0, 1,
      ])
    let order = ["Pro-B", "Benign", "Pre-B", "Early-B"]
    let v = try AgreementWeights.clinical(categories: order)
    for (i, x) in order.enumerated() {
      for (j, y) in order.enumerated() {
        #expect(v[i, j] == w[all4.firstIndex(of: x)!, all4.firstIndex(of: y)!])
      }
    }
    #expect(throws: WeightError.clinicalNeedsAll4(["A", "B"])) {
      try AgreementWeights.clinical(categories: ["A", "B"])
    }
  }

  @Test func customWeightsAreChecked() {
    #expect(throws: WeightError.diagonal(index: 1, value: 0.5)) {
      try AgreementWeights(k: 2, values: [1, 0, 0, 0.5])
    }
    #expect(throws: WeightError.outOfRange(row: 0, col: 1, value: 2)) {
      try AgreementWeights(k: 2, values: [1, 2, 0, 1])
    }
    #expect(throws: WeightError.shape(expected: 2, count: 3)) {
      try AgreementWeights(k: 2, values: [1, 0, 1])
    }
  }

  @Test func linearAndQuadraticWeights() throws {
    #expect(try AgreementWeights.linear(3).get().values == [1, 0.5, 0, 0.5, 1, 0.5, 0, 0.5, 1])
    #expect(try AgreementWeights.quadratic(3).get().values == [1, 0.75, 0, 0.75, 1, 0.75, 0, 0.75, 1])
    #expect(AgreementWeights.linear(1).undefined != nil)
  }

  @Test func landisKochBands() {
    #expect(LandisKoch(-0.1) == .poor)
    #expect(LandisKoch(0) == .slight)
    #expect(LandisKoch(0.2) == .slight)
    #expect(LandisKoch(0.21) == .fair)
    #expect(LandisKoch(0.6) == .moderate)
    #expect(LandisKoch(0.61) == .substantial)
    #expect(LandisKoch(0.8) == .substantial)
    #expect(LandisKoch(0.81) == .almostPerfect)
    #expect(LandisKoch(1) == .almostPerfect)
    #expect(LandisKoch(0.7).phrase == "substantial agreement")
  }
}
