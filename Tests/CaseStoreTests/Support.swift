import Foundation
import Imaging

@testable import CaseStore

/// A fresh temporary directory, removed when the value is released.
final class TempDir {
  let path: String
  init(_ name: String = "casestore") {
    let base =
      FileManager.default.temporaryDirectory.path
      + "/\(name)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    try! FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    path = base
  }
  deinit {
    _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+rwx", path]).waitUntilExit()
    try? FileManager.default.removeItem(atPath: path)
  }
  func sub(_ p: String) -> String { path + "/" + p }
}

/// A deterministic generator (SplitMix64) so property tests replay from their seed.
struct SeededRandom: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

func fakeSHA<G: RandomNumberGenerator>(_ rng: inout G) -> String {
  (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
}

/// A workspace with `n` synthetic cases (metadata only, 8×8 images), ids 1...n.
func makeStore(_ dir: TempDir, cases n: Int, schema: LabelSchema = .all4, seed: UInt64 = 1) throws
  -> CaseStore
{
  let store = try Workspace.create(at: dir.sub("ws"), schema: schema)
  var rng = SeededRandom(seed: seed)
  var rows: [CaseStore.NewCase] = []
  for i in 0..<n {
    let sha = fakeSHA(&rng)
    rows.append(
      CaseStore.NewCase(
        path: "/images/case\(i).png", relative: false, sha256: sha, format: "png", width: 8, height: 8,
        referenceLabel: schema.classes[i % schema.classes.count].name, split: Split.of(sha256Hex: sha),
        mask: nil,
        maskSource: nil))
  }
  for chunk in stride(from: 0, to: rows.count, by: 5000) {
    _ = try store.insertCases(Array(rows[chunk..<min(chunk + 5000, rows.count)]))
  }
  return store
}

func squareMask(_ w: Int, _ h: Int, x: Int, y: Int, size: Int) -> Mask {
  var m = Mask(width: w, height: h)
  for yy in y..<min(h, y + size) { for xx in x..<min(w, x + size) { m[xx, yy] = 255 } }
  return m
}
