import Foundation
import Testing

@testable import Imaging

/// The team's full data sets (outside the repository; skipped where absent): every file
/// must decode. This guards the decoders' strictness (PNG CRCs, libjpeg's corrupt-data
/// warnings made fatal) against rejecting real images.
enum SharedData {
  /// `$BLASTVIEW_SHARED_DATA`, else the first `shared/data` found beside the repository or
  /// one of its parents.
  static let root: URL? = {
    if let path = ProcessInfo.processInfo.environment["BLASTVIEW_SHARED_DATA"] {
      return URL(fileURLWithPath: path)
    }
    var dir = Paths.repository
    for _ in 0..<3 {
      dir = dir.deletingLastPathComponent()
      let candidate = dir.appendingPathComponent("shared/data")
      if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
    }
    return nil
  }()

  static func files(_ sub: String, extensions: Set<String>) -> [String] {
    guard let root, let e = FileManager.default.enumerator(atPath: root.appendingPathComponent(sub).path)
    else {
      return []
    }
    var out: [String] = []
    while let name = e.nextObject() as? String {
      if extensions.contains((name as NSString).pathExtension.lowercased()) {
        out.append(root.appendingPathComponent(sub).appendingPathComponent(name).path)
      }
    }
    return out.sorted()
  }
}

@Test(
  .enabled(if: SharedData.root != nil, "shared data not present"),
  arguments: [("aria-all", 224, 224), ("bccd/JPEGImages", 640, 480)])
func everySharedJPEGDecodes(_ set: (String, Int, Int)) throws {
  let files = SharedData.files(set.0, extensions: ["jpg", "jpeg"])
  #expect(files.count >= 300, "\(set.0): only \(files.count) files found")
  var failures: [String] = []
  for path in files {
    do {
      let image = try decodeImage(at: path)
      if image.width != set.1 || image.height != set.2 {
        failures.append("\(path): \(image.width)x\(image.height)")
      }
    } catch {
      failures.append(error.description)
    }
  }
  #expect(failures.isEmpty, "\(failures.count) of \(files.count): \(failures.prefix(5))")
}

@Test(.enabled(if: SharedData.root != nil, "shared data not present"))
func everyWbcOriginalMatchesItsSampleDataPNG() throws {
  // The data set's own BMPs decode to exactly the pixels of SampleData's lossless PNGs.
  let bmps = SharedData.files("wbc-seg/Dataset1", extensions: ["bmp"])
  try #require(bmps.count == 300)
  let csv = try String(
    contentsOf: Paths.sampleData.appendingPathComponent("wbc-seg/labels.csv"), encoding: .utf8)
  var classOf: [String: String] = [:]
  for row in csv.split(separator: "\n").dropFirst() {
    let f = row.split(separator: ",")
    classOf[String(f[0].dropLast(4))] = String(f[2])
  }
  for bmp in bmps {
    let stem = ((bmp as NSString).lastPathComponent as NSString).deletingPathExtension
    let png = Paths.sampleData.appendingPathComponent("wbc-seg/images/\(classOf[stem]!)/\(stem).png").path
    #expect(try decodeImage(at: bmp) == decodeImage(at: png), "\(stem)")
  }
}
