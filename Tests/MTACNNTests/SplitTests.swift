import Foundation
import Testing

@testable import MTACNN

@Suite struct SplitTests {
  @Test func countsRoundHalfUp() {
    #expect(StratifiedSplit.counts(428) == (342, 43, 43))
    #expect(StratifiedSplit.counts(837) == (669, 84, 84))
    #expect(StratifiedSplit.counts(5) == (3, 1, 1))
    #expect(StratifiedSplit.counts(4) == (4, 0, 0))
    #expect(StratifiedSplit.counts(0) == (0, 0, 0))
  }

  /// The Python reference's split of synthetic files, for three seeds (including the largest).
  @Test func matchesPythonOnSyntheticFiles() throws {
    let f = try fixture("split")
    let entries = f["entries"] as! [[String: Any]]
    let built = entries.map { e -> StratifiedSplit.Entry in
      let bytes = Array((e["content"] as! String).utf8)
      let digest = StratifiedSplit.sha256(bytes)
      #expect(hex(digest) == e["sha256"] as! String)
      return .init(
        classIndex: (e["class"] as! NSNumber).intValue, digest: digest, relativePath: e["rel"] as! String)
    }
    let expected = f["synthetic_splits"] as! [String: [String]]
    #expect(expected.count == 3)
    for (seed, parts) in expected {
      let got = StratifiedSplit.assign(built, seed: UInt64(seed)!).map(\.rawValue)
      #expect(got == parts, "seed \(seed)")
    }
  }

  @Test func independentOfInputOrder() throws {
    let f = try fixture("split")
    let entries = (f["entries"] as! [[String: Any]]).map { e in
      StratifiedSplit.Entry(
        classIndex: (e["class"] as! NSNumber).intValue,
        digest: StratifiedSplit.sha256(Array((e["content"] as! String).utf8)),
        relativePath: e["rel"] as! String)
    }
    let forward = StratifiedSplit.assign(entries, seed: 9)
    let backward = StratifiedSplit.assign(entries.reversed(), seed: 9)
    #expect(forward == backward.reversed())
  }

  /// wbc-seg Dataset 1 (300 crops): the Python split from the files' SHA-256, and, when the data is
  /// present, the digests of the files themselves.
  @Test func matchesPythonOnWbcSeg() throws {
    let f = try fixture("split")
    let list = f["wbc_seg_seed0"] as! [[String: Any]]
    #expect(list.count == 300)
    let entries = list.map { e in
      StratifiedSplit.Entry(
        classIndex: (e["class"] as! NSNumber).intValue, digest: bytes(hex: e["sha256"] as! String),
        relativePath: e["rel"] as! String)
    }
    #expect(StratifiedSplit.assign(entries).map(\.rawValue) == list.map { $0["split"] as! String })
    guard let root = sharedData("data/wbc-seg") else { return }
    for e in list.prefix(40) {
      let data = try Data(contentsOf: URL(fileURLWithPath: root + "/" + (e["file"] as! String)))
      #expect(hex(StratifiedSplit.sha256(Array(data))) == e["sha256"] as! String)
    }
  }

  /// The Aria images (never committed): FolderDataset's split equals tools/torch/split.py's,
  /// run here; skipped when the data or python3 is absent.
  @Test func matchesPythonOnAria() throws {
    guard let aria = sharedData("data/aria-all", env: "BLASTVIEW_ARIA") else { return }
    let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
      FileManager.default.fileExists(atPath: $0)
    }
    guard let python else { return }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = [repositoryRoot + "/tools/torch/split.py", "--data", aria + "/Original", "--seed", "0"]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0)
    var expected: [String: String] = [:]
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
      let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
      expected[obj["rel"] as! String] = obj["split"] as? String
    }
    let ds = try FolderDataset(root: aria + "/Original", schema: .all4)
    #expect(ds.items.count == expected.count)
    for item in ds.items {
      #expect(expected[item.relativePath] == item.part.rawValue, "\(item.relativePath)")
    }
    #expect(ds.items(in: .test).count == ds.items(in: .val).count)
  }
}

func bytes(hex: String) -> [UInt8] {
  var out: [UInt8] = []
  var i = hex.startIndex
  while i < hex.endIndex {
    let j = hex.index(i, offsetBy: 2)
    out.append(UInt8(hex[i..<j], radix: 16)!)
    i = j
  }
  return out
}

/// The repository's SampleData/wbc-seg (always present, so this runs in CI): FolderDataset finds the
/// same images, masks and parts as the Python reference, and loads a sample end to end.
@Suite struct SampleDataTests {
  @Test func folderDatasetMatchesPythonOnSampleData() throws {
    let f = try fixture("split")
    let expected = f["sampledata_wbc_seg_seed0"] as! [[String: Any]]
    #expect(expected.count == 300)
    let root = repositoryRoot + "/SampleData/wbc-seg"
    let ds = try FolderDataset(root: root + "/images", schema: .wbc5, masks: root + "/masks")
    #expect(ds.items.count == expected.count)
    let byPath = Dictionary(uniqueKeysWithValues: ds.items.map { ($0.relativePath, $0) })
    for e in expected {
      let item = try #require(byPath[e["rel"] as! String])
      #expect(hex(item.digest) == e["sha256"] as! String)
      #expect(item.part.rawValue == e["split"] as! String)
      #expect(item.classIndex == (e["class"] as! NSNumber).intValue)
      #expect(item.maskPath == (e["mask"] as? String).map { root + "/" + $0 })
    }
    let item = ds.items(in: .val)[0]
    let sample = try ds.load(item, preprocessing: Preprocessing(size: 64), maskRule: .expert)
    #expect(sample.input.width == 64 && sample.input.data.count == 3 * 64 * 64)
    let mask = try #require(sample.mask)
    #expect(mask.width == 64 && mask.values.contains(255) && mask.values.allSatisfy { $0 == 0 || $0 == 255 })
  }
}
