import Agreement
import Foundation
import Imaging
import Testing

/// The real `blastview agree-masks` binary on PNG masks written here.
@Suite struct AgreeMasksEndToEndTests {
  let runner = AgreeEndToEndTests()

  func png(_ width: Int, _ height: Int, _ rows: [[UInt8]]) throws -> String {
    let path = NSTemporaryDirectory() + "mask-\(UUID().uuidString).png"
    try writePNG(Mask(width: width, height: height, values: rows.flatMap { $0 }), to: path)
    return path
  }

  /// An 8 × 5 example worked by hand (255 = nucleus):
  ///
  ///     a: 1 1 1 . . . . .      b: 1 1 . . . . . .
  ///        1 1 1 . . 1 1 .         1 1 . . . 1 1 .
  ///        . . . . . 1 1 .         . . . . . 1 1 .
  ///        . . . . . . . .         . . . . . . . .
  ///        . . . . . . . .         . . . . . . . 1
  ///
  /// Nuclei of a: 6 and 4 pixels; of b: 4 (inside the first), 4 (equal to the second), 1.
  /// Pixels |A| 10, |B| 9, both 8: Dice 16/19, IoU 8/11. Matches: IoU 4/6 and 1; the single
  /// pixel is a false positive: precision 2/3, recall 1, F1 4/5, SQ 5/6, PQ 2/3.
  /// AJI = (4 + 4)/(6 + 4 + 1) = 8/11, and AJI+ the same.
  @Test func handWorkedMasks() throws {
    let x: UInt8 = 255
    let a = try png(
      8, 5,
      [
        [x, x, x, 0, 0, 0, 0, 0], [x, x, x, 0, 0, x, x, 0], [0, 0, 0, 0, 0, x, x, 0],
        [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0],
      ])
    // b's stray pixel is 128: a nucleus at the default threshold, background at 255.
    let b = try png(
      8, 5,
      [
        [x, x, 0, 0, 0, 0, 0, 0], [x, x, 0, 0, 0, x, x, 0], [0, 0, 0, 0, 0, x, x, 0],
        [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 128],
      ])
    defer {
      try? FileManager.default.removeItem(atPath: a)
      try? FileManager.default.removeItem(atPath: b)
    }
    let r = try runner.run(["agree-masks", a, b, "--json"])
    #expect(r.status == 0, "\(r.err)")
    let j = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    func number(_ key: String) -> Double? { j[key] as? Double }
    #expect(j["nuclei_a"] as? Int == 2 && j["nuclei_b"] as? Int == 3 && j["matched"] as? Int == 2)
    #expect(near(number("dice"), 16.0 / 19))
    #expect(near(number("iou"), 8.0 / 11))
    #expect(near(number("precision"), 2.0 / 3))
    #expect(near(number("recall"), 1))
    #expect(near(number("f1"), 0.8))
    #expect(near(number("sq"), 5.0 / 6))
    #expect(near(number("pq"), 2.0 / 3))
    #expect(near(number("aji"), 8.0 / 11))
    #expect(near(number("aji_plus"), 8.0 / 11))
    #expect((j["undefined"] as? [Any])?.isEmpty == true)

    // At threshold 255 the stray 128 pixel is background: three nuclei become two, all matched.
    let r2 = try runner.run(["agree-masks", a, b, "--threshold", "255", "--json"])
    let j2 = try #require(try JSONSerialization.jsonObject(with: Data(r2.out.utf8)) as? [String: Any])
    #expect(j2["nuclei_b"] as? Int == 2 && j2["precision"] as? Double == 1)

    let text = try runner.run(["agree-masks", a, b])
    #expect(text.out.contains("Dice 0.842, IoU 0.727"))
    #expect(text.out.contains("PQ 0.667 = SQ 0.833 (mean IoU of matches) × DQ 0.800"))
  }

  @Test func emptyMasksAreUndefinedNotNaN() throws {
    let a = try png(3, 2, [[0, 0, 0], [0, 0, 0]])
    defer { try? FileManager.default.removeItem(atPath: a) }
    let r = try runner.run(["agree-masks", a, a, "--json"])
    #expect(r.status == 0)
    let j = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    #expect(j["dice"] is NSNull && j["aji"] is NSNull)
    #expect((j["undefined"] as? [[String: String]])?.first?["reason"] == "both masks are empty")
    let text = try runner.run(["agree-masks", a, a])
    #expect(text.out.contains("dice: both masks are empty"))
    #expect(!text.out.lowercased().contains("nan"))
  }

  @Test func badFilesNameTheFile() throws {
    let a = try png(3, 2, [[0, 255, 0], [0, 0, 0]])
    let b = try png(2, 2, [[0, 255], [0, 0]])
    let text = NSTemporaryDirectory() + "not-an-image-\(UUID().uuidString).png"
    try "hello".write(toFile: text, atomically: true, encoding: .utf8)
    defer { for p in [a, b, text] { try? FileManager.default.removeItem(atPath: p) } }
    let r = try runner.run(["agree-masks", a, b])
    #expect(r.status != 0)
    #expect(r.err.contains("the masks differ in size: \(a) is 3×2, \(b) is 2×2"))
    let r2 = try runner.run(["agree-masks", a, text])
    #expect(r2.status != 0 && r2.err.contains(text))
    let r3 = try runner.run(["agree-masks", a, a, "--connectivity", "6"])
    #expect(r3.status != 0 && r3.err.contains("--connectivity must be 4 or 8"))
  }
}

/// Within 1e-12 (the values are exact ratios of small integers).
private func near(_ x: Double?, _ y: Double) -> Bool {
  guard let x else { return false }
  return abs(x - y) < 1e-12
}
