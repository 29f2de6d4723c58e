import Foundation
import Testing

@testable import Imaging

/// Every SampleData file, read independently with Pillow by tools/fixtures/make_imaging_fixtures.py
/// (its version and command are in the JSON): size, hash and sum of all decoded bytes, and
/// four pixels.
struct SampleReference: Decodable, CustomTestStringConvertible, Sendable {
  struct Pixel: Decodable, Sendable {
    let x: Int
    let y: Int
    let value: [Int]
  }
  let path: String
  let kind: String
  let width: Int
  let height: Int
  let fnv1a64: String
  let sum: Int
  let pixels: [Pixel]
  var testDescription: String { path }

  static let all: [SampleReference] = {
    struct File: Decodable { let files: [SampleReference] }
    let data = try! Data(contentsOf: Paths.fixtures.appendingPathComponent("sampledata-reference.json"))
    return try! JSONDecoder().decode(File.self, from: data).files
  }()
}

@Test func referenceCoversAllSampleData() throws {
  // Every image file in SampleData has a reference entry and vice versa.
  let enumerator = FileManager.default.enumerator(atPath: Paths.sampleData.path)!
  var onDisk: Set<String> = []
  while let name = enumerator.nextObject() as? String {
    if ["png", "jpg", "bmp"].contains((name as NSString).pathExtension.lowercased()) {
      onDisk.insert("SampleData/" + name)
    }
  }
  #expect(onDisk == Set(SampleReference.all.map(\.path)))
  #expect(onDisk.count == 300 + 300 + 20)
}

@Test(arguments: SampleReference.all)
func decodesSampleFileLikePillow(_ ref: SampleReference) throws {
  let path = Paths.repository.appendingPathComponent(ref.path).path
  let bytes: [UInt8]
  let channels: Int
  if ref.kind == "mask" {
    let mask = try decodeMask(at: path)
    #expect(mask.width == ref.width && mask.height == ref.height)
    bytes = mask.values
    channels = 1
    // Expert masks hold only background, cytoplasm and nucleus.
    #expect(Set(mask.values).isSubset(of: [0, 128, 255]))
  } else {
    let image = try decodeImage(at: path)
    #expect(image.width == ref.width && image.height == ref.height)
    bytes = image.pixels
    channels = 3
  }
  #expect(String(fnv1a64(bytes), radix: 16).leftPadded(to: 16) == ref.fnv1a64)
  #expect(bytes.reduce(0) { $0 + Int($1) } == ref.sum)
  for p in ref.pixels {
    let i = (p.y * ref.width + p.x) * channels
    #expect(bytes[i..<i + channels].map(Int.init) == p.value, "pixel (\(p.x), \(p.y))")
  }
  #expect(try probeImage(at: path).width == ref.width)
}

@Test func wbcLabelsMatchClassFolders() throws {
  // labels.csv (image, class_id, class, width, height) agrees with where each image is filed.
  let csv = try String(
    contentsOf: Paths.sampleData.appendingPathComponent("wbc-seg/labels.csv"), encoding: .utf8)
  let rows = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
  #expect(rows.count == 300)
  let names = [1: "neutrophil", 2: "lymphocyte", 3: "monocyte", 4: "eosinophil", 5: "basophil"]
  for row in rows {
    let image = Paths.sampleData.appendingPathComponent("wbc-seg/images/\(row[2])/\(row[0])").path
    #expect(names[Int(row[1])!] == row[2])
    #expect(FileManager.default.fileExists(atPath: image), "\(row[0]) filed under \(row[2])")
    let info = try probeImage(at: image)
    #expect(info.width == Int(row[3]) && info.height == Int(row[4]))
    let mask = try decodeMask(at: Paths.sampleData.appendingPathComponent("wbc-seg/masks/\(row[0])").path)
    #expect(mask.width == info.width && mask.height == info.height)
  }
}

extension String {
  func leftPadded(to length: Int) -> String {
    String(repeating: "0", count: Swift.max(0, length - count)) + self
  }
}
