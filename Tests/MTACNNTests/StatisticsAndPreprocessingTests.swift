import Foundation
import Imaging
import Testing

@testable import MTACNN

@Suite struct StatisticsAndPreprocessingTests {
  /// The formula image of the fixture generator, with the Aria corner painted red.
  func formulaImage() -> RGBImage {
    var img = RGBImage(width: 224, height: 224)
    for y in 0..<224 {
      for x in 0..<224 {
        func v(_ c: Int) -> UInt8 { UInt8(((37 * x + 101 * y + 53 * c + (x * y) % 17) * 7) % 256) }
        img[x, y] = x >= 188 && y >= 188 ? (255, 0, 0) : (v(0), v(1), v(2))
      }
    }
    return img
  }

  @Test func twelveStatisticsMatchNumpy() throws {
    let f = try fixture("colour")
    let s = ColourStatistics(formulaImage())
    let e = doubles(f["stats"])
    for i in 0..<12 { #expect(abs(s.values[i] - e[i]) < 1e-9, "\(ColourStatistics.names[i])") }
  }

  @Test func cornerBlankFillsMeanOfTheRest() throws {
    let f = try fixture("colour")
    let b = CornerBlank.aria.apply(to: formulaImage())
    let e = ints(f["blank_fill"])
    #expect([b[200, 200].r, b[200, 200].g, b[200, 200].b].map(Int.init) == e)
    #expect(b[187, 223] == formulaImage()[187, 223])
    #expect(b[223, 188] == b[200, 200])
  }

  @Test func cornerRectScalesWithImageSize() {
    #expect(
      CornerBlank.aria.rect(forWidth: 224, height: 224) == PixelRect(x: 188, y: 188, width: 36, height: 36))
    // 448: exactly doubled; 100: floor at the top-left (83), ceiling at the end (100)
    #expect(
      CornerBlank.aria.rect(forWidth: 448, height: 448) == PixelRect(x: 376, y: 376, width: 72, height: 72))
    #expect(
      CornerBlank.aria.rect(forWidth: 100, height: 100) == PixelRect(x: 83, y: 83, width: 17, height: 17))
  }

  @Test func preprocessingBlanksResizesAndScales() {
    let p = Preprocessing(size: 128, cornerBlank: .aria)
    let x = p.input(formulaImage())
    #expect(x.width == 128 && x.height == 128 && x.data.count == 3 * 128 * 128)
    #expect(x.data.allSatisfy { $0 >= 0 && $0 <= 1 })
    // the corner's red is gone: the bottom-right pixel is the fill (mean of the rest), not (1, 0, 0)
    let n = 128 * 128
    #expect(x.data[n - 1] < 0.9 && x.data[2 * n - 1] > 0.1)
  }

  @Test func weakAndExpertMaskRules() {
    let img = RGBImage(width: 3, height: 1, pixels: [20, 20, 20, 21, 20, 20, 200, 0, 0])
    let plain = MaskRule.weak(sumAbove: 60, minimumArea: 1, minimumFraction: 0)
    #expect(plain.nucleusMask(fromImage: img)?.values == [0, 255, 255])
    let m = Mask(width: 4, height: 1, values: [0, 128, 191, 255])
    #expect(MaskRule.expert.nucleusMask(fromMask: m)?.values == [0, 0, 0, 255])
  }

  /// The Aria rule: speckles under 30 pixels go, a blob of 30 stays; too little left means no mask.
  @Test func weakMaskDropsSpeckleAndEmptyMasks() {
    var img = RGBImage(width: 40, height: 40)
    for y in 0..<5 { for x in 0..<6 { img[x + 2, y + 2] = (200, 100, 200) } }  // 30 px blob
    for x in 20..<29 { img[x, 30] = (200, 100, 200) }  // 9 px speckle line
    img[35, 35] = (255, 255, 255)
    let m = MaskRule.ariaDefault.nucleusMask(fromImage: img)
    #expect(m?.values.filter { $0 == 255 }.count == 30)
    #expect(m?[20, 30] == 0 && m?[35, 35] == 0 && m?[2, 2] == 255)
    let strict = MaskRule.weak(sumAbove: 120, minimumArea: 30, minimumFraction: 0.02)
    #expect(strict.nucleusMask(fromImage: img) == nil)  // 30 / 1600 < 2 %
  }

  /// The outlier warning: fitted on a cluster of statistics, thresholded on held-out ones; it does
  /// not fire on those and fires on a strongly recoloured image's statistics.
  @Test func mahalanobisWarningFiresOnRecolouredOnly() throws {
    var rng = SplitMix64(seed: 1)
    func smear() -> RGBImage {
      // pinkish background with a purple disc, jittered brightness and tint
      let t = rng.symmetric(0.04)
      let b = 1 + rng.symmetric(0.05)
      var img = RGBImage(width: 64, height: 64)
      for y in 0..<64 {
        for x in 0..<64 {
          let inDisc = (x - 32) * (x - 32) + (y - 30) * (y - 30) < 300
          let base: (Double, Double, Double) = inDisc ? (0.45, 0.25, 0.6) : (0.9, 0.78, 0.82)
          let noise = rng.symmetric(0.03)
          func q(_ v: Double) -> UInt8 { UInt8(max(0, min(255, (v * b + noise) * 255))) }
          img[x, y] = (q(base.0 + t), q(base.1), q(base.2 - t))
        }
      }
      return img
    }
    let train = (0..<60).map { _ in ColourStatistics(smear(), excluding: nil) }
    let val = (0..<20).map { _ in ColourStatistics(smear(), excluding: nil) }
    let detector = try ColourOutlierDetector(training: train).withThreshold(validation: val, quantile: 1)
    #expect(val.allSatisfy { !detector.isOutlier($0) })
    let fresh = (0..<20).map { _ in ColourStatistics(smear(), excluding: nil) }
    #expect(fresh.filter { detector.isOutlier($0) }.count <= 1)
    let recoloured = ColourShift.hue(degrees: 60).apply(to: smear())
    #expect(detector.isOutlier(ColourStatistics(recoloured, excluding: nil)))
    #expect(detector.isOutlier(ColourStatistics(ColourShift.gray.apply(to: smear()), excluding: nil)))
    #expect(throws: ColourOutlierDetector.FitError.self) { try ColourOutlierDetector(training: [train[0]]) }
    #expect(throws: ColourOutlierDetector.FitError.self) {
      try ColourOutlierDetector(training: train, labels: [0])
    }
  }

  /// Two tight clusters far apart: a point halfway between them is an outlier for the
  /// class-conditional detector, though a single covariance over both would accept it.
  @Test func classConditionalDetectorSeesBetweenClusters() throws {
    var rng = SplitMix64(seed: 2)
    func stats(_ centre: Double) -> ColourStatistics {
      ColourStatistics(
        values: (0..<12).map { k in centre + (k % 2 == 0 ? 0.05 : -0.05) * centre + rng.symmetric(0.01) })
    }
    let a = (0..<40).map { _ in stats(0.3) }
    let b = (0..<40).map { _ in stats(0.7) }
    let labels = [Int](repeating: 0, count: 40) + [Int](repeating: 1, count: 40)
    let val = (0..<10).map { _ in stats(0.3) } + (0..<10).map { _ in stats(0.7) }
    let conditional = try ColourOutlierDetector(training: a + b, labels: labels).withThreshold(
      validation: val, quantile: 1)
    let pooled = try ColourOutlierDetector(training: a + b).withThreshold(validation: val, quantile: 1)
    let between = stats(0.5)
    #expect(conditional.isOutlier(between))
    #expect(!pooled.isOutlier(between))
    #expect(conditional.means.count == 2)
  }

  @Test func inverseIsInverse() {
    let a: [Double] = [4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2]
    let inv = invertSymmetricPositiveDefinite(a, 3)
    for i in 0..<3 {
      for j in 0..<3 {
        let v = (0..<3).reduce(0.0) { $0 + a[i * 3 + $1] * inv[$1 * 3 + j] }
        #expect(abs(v - (i == j ? 1 : 0)) < 1e-12)
      }
    }
  }

  @Test func schemaFoldersAndHierarchy() {
    #expect(ClassSchema.all4.classIndex(forFolder: "Benign") == 0)
    #expect(ClassSchema.all4.classIndex(forFolder: "PRO") == 3)
    #expect(ClassSchema.all4.classIndex(forFolder: "[Malignant] early Pre-B") == 1)
    #expect(ClassSchema.all4.classIndex(forFolder: "Segmented") == nil)
    #expect(ClassSchema.wbc5.classIndex(forFolder: "basophil") == 4)
    #expect(ClassSchema.all4.binaryGroup(2) == 1 && ClassSchema.all4.binaryGroup(0) == 0)
    #expect(ClassSchema.wbc5.binaryGroup(2) == nil)
  }

  @Test func folderDatasetErrorsNameThePath() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "mtacnn-ds-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(
      at: dir.appendingPathComponent("Benign"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(
      at: dir.appendingPathComponent("Malignantt"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    do {
      _ = try FolderDataset(root: dir.path, schema: .all4)
      Issue.record("expected an error")
    } catch {
      #expect(error.reason == .unknownClassFolder(schema: "all4", classes: ClassSchema.all4.classes))
      #expect(error.description.contains("Malignantt"))
    }
    try FileManager.default.removeItem(at: dir.appendingPathComponent("Malignantt"))
    #expect(throws: DatasetError.self) { try FolderDataset(root: dir.path, schema: .all4) }
    for i in 0..<12 {
      try Data("img \(i)".utf8).write(to: dir.appendingPathComponent("Benign/\(i).png"))
    }
    try Data("not an image".utf8).write(to: dir.appendingPathComponent("Benign/notes.txt"))
    try Data("hidden".utf8).write(to: dir.appendingPathComponent("Benign/.hidden.png"))
    let ds = try FolderDataset(root: dir.path, schema: .all4)
    #expect(ds.items.count == 12)
    #expect(ds.items(in: .val).count == 1 && ds.items(in: .test).count == 1)
    #expect(throws: DatasetError.self) { try FolderDataset(root: dir.path + "/nope", schema: .all4) }
  }
}

/// The model configuration JSON of the PyTorch reference decodes, re-encodes to the same JSON
/// object, and gives the preprocessing prediction must repeat.
@Suite struct ModelConfigurationTests {
  @Test func decodesReferenceConfigs() throws {
    let f = try fixture("configs")
    let configs = f["configs"] as! [String: String]
    for (name, json) in configs {
      let c = try ModelConfiguration.decode(json: json)
      let again = try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as! NSDictionary
      let original = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! NSDictionary
      #expect(again == original, "\(name)")
    }
    let all4 = try ModelConfiguration.decode(json: configs["all4"]!)
    #expect(all4 == ModelConfiguration.defaults(for: .all4))
    #expect(all4.preprocessing.cornerBlank == .aria)
    #expect(all4.preprocessing.size == 128)
    let wbc5 = try ModelConfiguration.decode(json: configs["wbc5"]!)
    #expect(!wbc5.hierarchical && wbc5.tasks == ["cls"] && wbc5.preprocessing.cornerBlank == nil)
    let norm = try ModelConfiguration.decode(json: configs["reinhard"]!)
    #expect(norm.stainNormalisation == .reinhard(mean: [70.5, 12.25, -9.0], std: [12.0, 5.5, 4.25]))
    #expect(norm.ttcFrom["cls"] == [] && norm.ttcFrom["seg"] == ["cls"])
  }

  @Test func rejectsUnknownKeysAndBadValues() throws {
    let json = try String(decoding: JSONEncoder().encode(ModelConfiguration()), as: UTF8.self)
    #expect(throws: ModelConfiguration.ConfigError.self) {
      try ModelConfiguration.decode(json: String(json.dropLast()) + #", "sise": 128}"#)
    }
    var bad = ModelConfiguration()
    bad.size = 100
    #expect(throws: ModelConfiguration.ConfigError.self) { try bad.validate() }
    bad = ModelConfiguration()
    bad.ttcFrom = ["cls": ["cls"]]
    #expect(throws: ModelConfiguration.ConfigError.self) { try bad.validate() }
    #expect(throws: ModelConfiguration.ConfigError.self) { try ModelConfiguration.decode(json: "[1]") }
  }
}
