import ArgumentParser
import Foundation
import Imaging
import Terminal

/// `blastview sampledata [--path SampleData] [--json]`: what the bundled sample data holds,
/// read from the files themselves (every image and mask is decoded, every label and box
/// counted), so the summary doubles as a check that the data and the decoders agree.
struct SampleDataCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sampledata",
    abstract: "Summarise the bundled sample images: counts, sizes, labels, masks and boxes.")

  @Option(help: ArgumentHelp("The SampleData folder.", valueName: "path"))
  var path: String = "SampleData"

  @Flag(help: "Print the summary as JSON.")
  var json = false

  func run() throws {
    let summary = try SampleDataSummary.read(root: URL(fileURLWithPath: path))
    if json {
      try JSONOutput.print(summary)
    } else {
      print(summary.text)
    }
    if !summary.problems.isEmpty { throw ExitCode(1) }
  }
}

struct SampleDataSummary: Codable {
  struct SizeCount: Codable {
    var width: Int
    var height: Int
    var count: Int
  }
  struct WBC: Codable {
    var images: Int
    var sizes: [SizeCount]
    /// Images per class folder, in the label schema's order.
    var classes: [String: Int]
    var masks: Int
    /// Mean share of each crop that the experts marked nucleus (255) and cytoplasm (128).
    var meanNucleusFraction: Double
    var meanCytoplasmFraction: Double
  }
  struct BCCD: Codable {
    var images: Int
    var sizes: [SizeCount]
    var annotations: Int
    var boxes: [String: Int]
  }

  var root: String
  var wbc: WBC
  var bccd: BCCD
  var bytes: Int
  /// Files that failed to decode or did not match; the command exits 1 if any.
  var problems: [String]

  static let wbcClasses = ["neutrophil", "lymphocyte", "monocyte", "eosinophil", "basophil"]

  static func read(root: URL) throws -> SampleDataSummary {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    guard fm.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
      throw ValidationError(
        "no SampleData folder at \(Sanitizer.sanitize(root.path)); run from the repository root or pass --path"
      )
    }
    var problems: [String] = []
    func files(_ sub: String, ext: String) -> [URL] {
      let dir = root.appendingPathComponent(sub)
      let names = (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
      return names.filter { $0.lowercased().hasSuffix("." + ext) }.sorted().map {
        dir.appendingPathComponent($0)
      }
    }

    // wbc-seg: images by class folder, masks by stem.
    var sizes: [String: SizeCount] = [:]
    var classes: [String: Int] = [:]
    var nucleus = 0.0
    var cytoplasm = 0.0
    var masks = 0
    var images = 0
    for cls in wbcClasses {
      for url in files("wbc-seg/images/\(cls)", ext: "png") {
        let maskURL = root.appendingPathComponent("wbc-seg/masks/\(url.lastPathComponent)")
        let pair: (RGBImage, Mask)
        do {
          pair = (try decodeImage(at: url.path), try decodeMask(at: maskURL.path))
        } catch {
          problems.append(error.description)
          continue
        }
        let (image, mask) = pair
        images += 1
        classes[cls, default: 0] += 1
        sizes[
          "\(image.width)x\(image.height)",
          default: SizeCount(width: image.width, height: image.height, count: 0)
        ]
        .count += 1
        guard mask.width == image.width, mask.height == image.height else {
          problems.append(
            "\(maskURL.path): mask is \(mask.width)x\(mask.height), image \(image.width)x\(image.height)")
          continue
        }
        masks += 1
        let n = Double(mask.values.count)
        nucleus += Double(mask.values.filter { $0 == 255 }.count) / n
        cytoplasm += Double(mask.values.filter { $0 == 128 }.count) / n
      }
    }
    let wbc = WBC(
      images: images,
      sizes: sizes.values.sorted { ($0.count, $0.width, $0.height) > ($1.count, $1.width, $1.height) },
      classes: classes, masks: masks, meanNucleusFraction: masks > 0 ? nucleus / Double(masks) : 0,
      meanCytoplasmFraction: masks > 0 ? cytoplasm / Double(masks) : 0)

    // bccd: fields and their VOC boxes.
    var bccdSizes: [String: SizeCount] = [:]
    var boxes: [String: Int] = [:]
    var annotations = 0
    var fields = 0
    for url in files("bccd/JPEGImages", ext: "jpg") {
      let image: RGBImage
      do {
        image = try decodeImage(at: url.path)
      } catch {
        problems.append(error.description)
        continue
      }
      fields += 1
      bccdSizes[
        "\(image.width)x\(image.height)",
        default: SizeCount(width: image.width, height: image.height, count: 0)
      ]
      .count += 1
      let xml = root.appendingPathComponent(
        "bccd/Annotations/" + url.deletingPathExtension().lastPathComponent + ".xml")
      guard let text = try? String(contentsOf: xml, encoding: .utf8) else {
        problems.append("\(xml.path): missing or unreadable")
        continue
      }
      annotations += 1
      for name in vocObjectNames(text) { boxes[name, default: 0] += 1 }
    }
    let bccd = BCCD(
      images: fields, sizes: bccdSizes.values.sorted { $0.count > $1.count }, annotations: annotations,
      boxes: boxes)

    let bytes =
      (fm.enumerator(at: root, includingPropertiesForKeys: [.fileSizeKey])?.allObjects as? [URL] ?? [])
      .reduce(0) { $0 + ((try? $1.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0) }
    return SampleDataSummary(
      root: root.standardizedFileURL.path, wbc: wbc, bccd: bccd, bytes: bytes, problems: problems)
  }

  /// The `<name>` of each `<object>` in a Pascal VOC annotation. VOC files are flat and
  /// machine-written, so a scan for the two tags is enough; names are trimmed.
  static func vocObjectNames(_ xml: String) -> [String] {
    var names: [String] = []
    var rest = xml[...]
    while let object = rest.range(of: "<object>") {
      rest = rest[object.upperBound...]
      guard let open = rest.range(of: "<name>"),
        let close = rest.range(of: "</name>", range: open.upperBound..<rest.endIndex)
      else { break }
      names.append(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines))
      rest = rest[close.upperBound...]
    }
    return names
  }

  var text: String {
    func sizeLine(_ sizes: [SizeCount]) -> String {
      guard let top = sizes.first else { return "none" }
      var s = "\(top.width)x\(top.height) ×\(top.count)"
      let others = sizes.dropFirst()
      if !others.isEmpty {
        let n = others.reduce(0) { $0 + $1.count }
        let minW = others.map(\.width).min()!
        let maxW = others.map(\.width).max()!
        let minH = others.map(\.height).min()!
        let maxH = others.map(\.height).max()!
        s += ", \(n) in \(others.count) other sizes (\(minW)-\(maxW) wide, \(minH)-\(maxH) high)"
      }
      return s
    }
    let pct = { (x: Double) in String(format: "%.1f %%", 100 * x) }
    var lines = ["SampleData (\(Sanitizer.sanitize(root)))"]
    lines.append("  wbc-seg  \(wbc.images) white-cell crops with expert masks (GPL-3.0, Zheng et al. 2018)")
    lines.append("    sizes    \(sizeLine(wbc.sizes))")
    let labels = Self.wbcClasses.map { "\($0) \(wbc.classes[$0] ?? 0)" }.joined(separator: ", ")
    lines.append("    labels   \(labels)  (authors' labels, not expert-checked)")
    lines.append(
      "    masks    \(wbc.masks): nucleus 255, cytoplasm 128, background 0; on average nucleus \(pct(wbc.meanNucleusFraction)), cytoplasm \(pct(wbc.meanCytoplasmFraction)) of a crop"
    )
    lines.append("  bccd     \(bccd.images) blood-smear fields with Pascal VOC boxes (MIT)")
    lines.append("    sizes    \(sizeLine(bccd.sizes))")
    let boxLine = bccd.boxes.keys.sorted().map { "\(Sanitizer.sanitize($0)) \(bccd.boxes[$0]!)" }.joined(
      separator: ", ")
    lines.append("    boxes    \(boxLine) (in \(bccd.annotations) annotation files)")
    lines.append(
      "  total    \(wbc.images + bccd.images) images, \(wbc.masks) masks, \(String(format: "%.1f", Double(bytes) / 1_048_576)) MiB"
    )
    for p in problems { lines.append("  PROBLEM  \(Sanitizer.sanitize(p))") }
    return lines.joined(separator: "\n")
  }
}
