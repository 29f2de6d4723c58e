import Foundation
import Imaging
import Terminal

/// Image sources for cases: the pixels are read only when the renderer's cache misses.
/// Thumbnails are kept as PNGs in the workspace cache (`CaseRow.thumbnailPath`), so a
/// second session does not decode the originals again.
public enum CaseImages {
  /// Longest side of a cached thumbnail: enough for a 19 × 6-cell tile at 10 × 20 px cells.
  public static let thumbnailSide = 256

  /// The full image at `path`, scaled to what the renderer asks for.
  public static func image(path: String, width: Int, height: Int) -> ImageSource {
    ImageSource(width: max(1, width), height: max(1, height)) { w, h in
      guard let image = try? decodeImage(at: path) else { return nil }
      return image.resized(width: w, height: h)
    }
  }

  /// A thumbnail: from the cache file when present, else from the original (then cached).
  public static func thumbnail(path: String, cachePath: String, width: Int, height: Int) -> ImageSource {
    ImageSource(width: max(1, width), height: max(1, height)) { w, h in
      if let cached = try? decodeImage(at: cachePath), cached.width >= w || cached.height >= h {
        return cached.resized(width: w, height: h)
      }
      guard let image = try? decodeImage(at: path) else { return nil }
      let scale = min(1, Double(thumbnailSide) / Double(max(image.width, image.height)))
      let small = image.resized(
        width: max(1, Int(Double(image.width) * scale)), height: max(1, Int(Double(image.height) * scale)))
      try? FileManager.default.createDirectory(
        atPath: (cachePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      try? writePNG(small, to: cachePath)
      return small.resized(width: w, height: h)
    }
  }
}
