import Foundation
import Imaging
import NeuralEngine

/// One image ready for training or evaluation: decoded, colour-shifted (evaluation only), corner
/// blanked and resized to S × S once, in 8 bits (a dataset of 2,767 images at S = 128 is 136 MB),
/// with whichever labels it has.
public struct Example: Sendable {
  /// S × S, after the model's preprocessing up to (not including) scaling and stain normalisation.
  public var image: RGBImage
  /// Class index in the model's schema; nil for an image that trains segmentation only.
  public var classIndex: Int?
  /// S × S nucleus mask (0/255); nil when the image has none (or an unusable one).
  public var mask: Mask?
  public var part: SplitPart
  /// Where it came from (a relative path or a case id), for reports.
  public var name: String
  /// The source image's size (to scale boxes and masks back).
  public var sourceWidth: Int
  public var sourceHeight: Int
  /// The twelve colour statistics of the source image (corner excluded as the model blanks it):
  /// the input of the colour-outlier reference a checkpoint carries (issue 10).
  public var colour: ColourStatistics?
  /// How the mask was read (expert or weak), when the loader knew; nil counts as expert (a
  /// workspace's rater masks). Issue 17 weighs expert masks over weak ones.
  public var maskKind: MaskKind?

  public init(
    image: RGBImage, classIndex: Int?, mask: Mask?, part: SplitPart, name: String, sourceWidth: Int,
    sourceHeight: Int, colour: ColourStatistics? = nil, maskKind: MaskKind? = nil
  ) {
    self.colour = colour
    self.maskKind = mask == nil ? nil : maskKind
    self.image = image
    self.classIndex = classIndex
    self.mask = mask
    self.part = part
    self.name = name
    self.sourceWidth = sourceWidth
    self.sourceHeight = sourceHeight
  }
}

/// How the masks of a folder are read (docs/checkpoint-format.md §5).
public enum MaskKind: String, Sendable, CaseIterable {
  /// Single-channel expert masks (wbc-seg: nucleus 255, cytoplasm 128): nucleus ≥ 192.
  case expert
  /// Colour threshold images (Aria `Segmented/`): `MaskRule.ariaDefault`.
  case weak

  public var rule: MaskRule { self == .expert ? .expert : .ariaDefault }

  /// Decides from up to `sample` mask files: weak when any holds a pixel whose channels differ
  /// (a colour image), expert when all are gray. Deciding per folder, not per file, keeps an
  /// all-black weak mask from being read as an expert "no nucleus here" mask.
  public static func detect(maskFiles: [String], sample: Int = 8) -> MaskKind {
    for path in maskFiles.prefix(sample) {
      guard let im = try? decodeImage(at: path) else { continue }
      let p = im.pixels
      var i = 0
      while i + 2 < p.count {
        if p[i] != p[i + 1] || p[i + 1] != p[i + 2] { return .weak }
        i += 3
      }
    }
    return .expert
  }
}

/// An image that could not be used, and why (reported and skipped; training goes on).
public struct SkippedFile: Error, Sendable, CustomStringConvertible {
  public var path: String
  public var reason: String
  public var description: String { "\(path): \(reason)" }
}

/// Loading examples from folders.
public enum ExampleLoader {
  /// Decodes and preprocesses `items` of a folder dataset in parallel (in item order). Images
  /// that fail to decode are skipped and returned in `skipped`; an unreadable mask drops only the
  /// mask. `withLabels` false makes segmentation-only examples.
  public static func load(
    _ items: [DatasetItem], preprocessing: Preprocessing, maskKind: MaskKind?, withLabels: Bool = true,
    shift: ColourShift = .none, progress: ((Int, Int) -> Void)? = nil
  ) -> (examples: [Example], skipped: [SkippedFile]) {
    var results = [Result<Example, SkippedFile>?](repeating: nil, count: items.count)
    let counter = ProgressCounter()
    let rule = maskKind?.rule ?? .expert
    let workers = max(1, min(Threads.count, items.count))
    results.withUnsafeMutableBufferPointer { out in
      let base = out.baseAddress!
      // Each worker takes every workers-th item, so the slots it writes are its own.
      parallelFor(workers) { worker in
        var i = worker
        while i < items.count {
          base[i] = loadOne(
            items[i], preprocessing: preprocessing, rule: rule, withLabels: withLabels, shift: shift,
            kind: maskKind)
          let d = counter.increment()
          if worker == 0 { progress?(d, items.count) }
          i += workers
        }
      }
    }
    progress?(items.count, items.count)
    var examples: [Example] = []
    var skipped: [SkippedFile] = []
    for r in results {
      switch r {
      case .success(let e): examples.append(e)
      case .failure(let s): skipped.append(s)
      case nil: break
      }
    }
    return (examples, skipped)
  }

  static func loadOne(
    _ item: DatasetItem, preprocessing: Preprocessing, rule: MaskRule, withLabels: Bool, shift: ColourShift,
    kind: MaskKind? = nil
  ) -> Result<Example, SkippedFile> {
    let image: RGBImage
    do {
      image = try decodeImage(at: item.path)
    } catch {
      return .failure(SkippedFile(path: item.path, reason: error.description))
    }
    var mask: Mask? = nil
    if let mp = item.maskPath {
      switch rule {
      case .weak: mask = (try? decodeImage(at: mp)).flatMap { rule.nucleusMask(fromImage: $0) }
      case .expert: mask = (try? decodeMask(at: mp)).flatMap { rule.nucleusMask(fromMask: $0) }
      }
      if let m = mask, m.width != image.width || m.height != image.height {
        mask = m.resized(width: image.width, height: image.height)
      }
    }
    let input = preprocessing.resized(image, shift: shift)
    return .success(
      Example(
        image: input, classIndex: withLabels ? item.classIndex : nil,
        mask: mask.map(preprocessing.mask), part: item.part, name: item.relativePath,
        sourceWidth: image.width, sourceHeight: image.height,
        colour: ColourStatistics(input, excluding: preprocessing.cornerBlank), maskKind: kind))
  }

  /// The mask files a dataset's items point at (for `MaskKind.detect`).
  public static func maskFiles(_ items: [DatasetItem]) -> [String] { items.compactMap(\.maskPath) }
}

extension FolderDataset {
  /// A folder of images used for segmentation only (issue 4: wbc-seg expert masks join Aria's
  /// weak ones): its sub-folders must be class folders of some known schema (they fix the
  /// stratified split); their labels are not used.
  public static func segmentationOnly(root: String, masks: String, splitSeed: UInt64 = 0) throws(DatasetError)
    -> FolderDataset
  {
    var firstError: DatasetError? = nil
    for schema in [ClassSchema.all4, .wbc5] {
      do {
        return try FolderDataset(root: root, schema: schema, masks: masks, splitSeed: splitSeed)
      } catch {
        if firstError == nil { firstError = error }
      }
    }
    throw firstError!
  }
}

/// A counter several threads bump (for progress).
final class ProgressCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var value = 0

  func increment() -> Int {
    lock.lock()
    defer { lock.unlock() }
    value += 1
    return value
  }
}
