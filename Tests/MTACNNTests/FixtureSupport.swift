import Foundation
import Imaging

/// Reads a JSON fixture made by tools/fixtures/make_mtacnn_fixtures.py.
func fixture(_ name: String) throws -> [String: Any] {
  guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures") else {
    throw FixtureError.missing(name)
  }
  let data = try Data(contentsOf: url)
  guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
    throw FixtureError.missing(name)
  }
  return obj
}

enum FixtureError: Error { case missing(String) }

func ints(_ any: Any?) -> [Int] { (any as? [Any] ?? []).map { ($0 as? NSNumber)?.intValue ?? 0 } }
func doubles(_ any: Any?) -> [Double] { (any as? [Any] ?? []).map { ($0 as? NSNumber)?.doubleValue ?? .nan } }
func double(_ any: Any?) -> Double { (any as? NSNumber)?.doubleValue ?? .nan }

/// An H x W x 3 nested JSON array as an RGBImage.
func rgbImage(_ any: Any?) -> RGBImage {
  let rows = any as? [[[Any]]] ?? []
  let h = rows.count
  let w = rows.first?.count ?? 0
  var p: [UInt8] = []
  for r in rows { for px in r { for v in px { p.append(UInt8((v as! NSNumber).intValue)) } } }
  return RGBImage(width: w, height: h, pixels: p)
}

/// An H x W nested JSON array of 0/1 as a 0/255 Mask.
func mask01(_ any: Any?) -> Mask {
  let rows = any as? [[Any]] ?? []
  var v: [UInt8] = []
  for r in rows { for x in r { v.append((x as! NSNumber).intValue != 0 ? 255 : 0) } }
  return Mask(width: rows.first?.count ?? 0, height: rows.count, values: v)
}

/// The largest per-byte difference of two images of one size.
func maxDifference(_ a: RGBImage, _ b: RGBImage) -> Int {
  precondition(a.width == b.width && a.height == b.height)
  return zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
}

/// `../shared/<rel>` beside the repository (main checkout, CI) or `../../shared/<rel>` (a worktree
/// under wt/); nil when absent. Tests that need real data skip without it.
func sharedData(_ rel: String, env: String? = nil) -> String? {
  if let env, let p = ProcessInfo.processInfo.environment[env], FileManager.default.fileExists(atPath: p) {
    return p
  }
  let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  for up in ["../shared", "../../shared"] {
    let p = repo.appendingPathComponent(up).appendingPathComponent(rel).standardized.path
    if FileManager.default.fileExists(atPath: p) { return p }
  }
  return nil
}

var repositoryRoot: String {
  URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
