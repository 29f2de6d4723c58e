import Foundation
import Imaging

/// A problem with a data folder, naming the path and what is wrong.
public struct DatasetError: Error, CustomStringConvertible, Equatable, Sendable {
  public enum Reason: Equatable, Sendable {
    case notADirectory
    case unknownClassFolder(schema: String, classes: [String])
    case empty(classes: [String])
    case unreadable(String)
  }

  public let path: String
  public let reason: Reason

  public var description: String {
    let p = path
    switch reason {
    case .notADirectory: return "\(p): not a directory"
    case .unknownClassFolder(let schema, let classes):
      return "\(p): folder names no class of schema \(schema) (\(classes.joined(separator: ", ")))"
    case .empty(let classes): return "\(p): no images in class folders (\(classes.joined(separator: ", ")))"
    case .unreadable(let why): return "\(p): cannot be read (\(why))"
    }
  }
}

/// One image of a folder-per-class dataset.
public struct DatasetItem: Equatable, Sendable {
  public var path: String
  /// "<class folder>/<file name>".
  public var relativePath: String
  public var classIndex: Int
  /// SHA-256 of the file's bytes.
  public var digest: [UInt8]
  public var maskPath: String?
  public var part: SplitPart
}

/// A folder with one sub-folder per class (the Kaggle layout: Benign/Early/Pre/Pro, or the wbc5
/// names), optionally a mask folder that mirrors it (`<masks>/<class folder>/<same file name>`,
/// or the same stem with another image extension), split by `StratifiedSplit`.
///
/// Images are the files ending .png, .jpg, .jpeg or .bmp (any case) directly inside a class
/// folder; names starting with "." are skipped. A sub-folder that names no class is an error (a
/// misspelt class must not silently vanish from training).
public struct FolderDataset: Sendable {
  public static let imageExtensions = ["png", "jpg", "jpeg", "bmp"]

  public let schema: ClassSchema
  public let root: String
  public let items: [DatasetItem]

  /// `masksExcludedFor`: class indices whose masks are ignored (Aria's Pro weak masks, see `MaskRule`).
  public init(
    root: String, schema: ClassSchema, masks: String? = nil, masksExcludedFor: Set<Int> = [],
    splitSeed: UInt64 = 0
  ) throws(DatasetError) {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    guard fm.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
      throw DatasetError(path: root, reason: .notADirectory)
    }
    let folders: [String]
    do {
      folders = try fm.contentsOfDirectory(atPath: root).sorted {
        Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
      }
    } catch {
      throw DatasetError(path: root, reason: .unreadable(String(describing: error)))
    }
    var found: [DatasetItem] = []
    for folder in folders where !folder.hasPrefix(".") {
      let dir = root + "/" + folder
      guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { continue }
      guard let k = schema.classIndex(forFolder: folder) else {
        throw DatasetError(
          path: dir, reason: .unknownClassFolder(schema: schema.name, classes: schema.classes))
      }
      let names: [String]
      do {
        names = try fm.contentsOfDirectory(atPath: dir).sorted {
          Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
        }
      } catch {
        throw DatasetError(path: dir, reason: .unreadable(String(describing: error)))
      }
      for name in names where !name.hasPrefix(".") && Self.isImageName(name) {
        let path = dir + "/" + name
        guard fm.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { continue }
        guard let data = fm.contents(atPath: path) else {
          throw DatasetError(path: path, reason: .unreadable("no read access"))
        }
        found.append(
          DatasetItem(
            path: path, relativePath: folder + "/" + name, classIndex: k,
            digest: StratifiedSplit.sha256(Array(data)),
            maskPath: masksExcludedFor.contains(k)
              ? nil : masks.flatMap { Self.findMask(root: $0, folder: folder, name: name) }, part: .train))
      }
    }
    guard !found.isEmpty else { throw DatasetError(path: root, reason: .empty(classes: schema.classes)) }
    let parts = StratifiedSplit.assign(
      found.map { .init(classIndex: $0.classIndex, digest: $0.digest, relativePath: $0.relativePath) },
      seed: splitSeed)
    for i in found.indices { found[i].part = parts[i] }
    self.schema = schema
    self.root = root
    items = found
  }

  public func items(in part: SplitPart) -> [DatasetItem] { items.filter { $0.part == part } }

  static func isImageName(_ name: String) -> Bool {
    guard let dot = name.lastIndex(of: ".") else { return false }
    return imageExtensions.contains(name[name.index(after: dot)...].lowercased())
  }

  /// `<masks>/<class folder>/<same name>`, else the same stem with another image extension there;
  /// then the same two looks directly in `<masks>` (a flat mask folder, as SampleData/wbc-seg/masks).
  static func findMask(root: String, folder: String, name: String) -> String? {
    let fm = FileManager.default
    let stem = name.lastIndex(of: ".").map { String(name[..<$0]) } ?? name
    for dir in [root + "/" + folder, root] {
      if fm.fileExists(atPath: dir + "/" + name) { return dir + "/" + name }
      for ext in imageExtensions {
        for e in [ext, ext.uppercased()] where fm.fileExists(atPath: dir + "/" + stem + "." + e) {
          return dir + "/" + stem + "." + e
        }
      }
    }
    return nil
  }

}

/// A loaded training sample: network input, class, and nucleus mask when one exists and is usable.
public struct Sample: Sendable {
  public var input: PlanarImage
  public var classIndex: Int
  public var mask: Mask?
}

extension FolderDataset {
  /// Decodes and preprocesses one item (with an optional evaluation colour shift). Weak masks are
  /// thresholded at the source resolution, then brought to S x S by nearest neighbour.
  public func load(
    _ item: DatasetItem, preprocessing: Preprocessing, maskRule: MaskRule = .ariaDefault,
    shift: ColourShift = .none
  ) throws(ImageError) -> Sample {
    let image = try decodeImage(at: item.path)
    var mask: Mask? = nil
    if let mp = item.maskPath {
      let nucleus: Mask?
      switch maskRule {
      case .weak: nucleus = maskRule.nucleusMask(fromImage: try decodeImage(at: mp))
      case .expert: nucleus = maskRule.nucleusMask(fromMask: try decodeMask(at: mp))
      }
      mask = nucleus.map(preprocessing.mask)
    }
    return Sample(input: preprocessing.input(image, shift: shift), classIndex: item.classIndex, mask: mask)
  }
}
