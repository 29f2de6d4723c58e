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

  /// The case image with the editor's mask blended in and the brush drawn as a ring at the
  /// cursor, at the size the renderer asks for. The decoded image is kept (`ImageMemo`), so a
  /// stroke costs a resize, a blend and an encode, not a decode.
  public static func editing(path: String, editor e: MaskEditor, colours: OverlayColours) -> ImageSource {
    let mask = e.mask
    let cursor = (e.cursorX, e.cursorY)
    let radius = e.radius
    let maskColour = (colours.myMask[0], colours.myMask[1], colours.myMask[2])
    let brush = (colours.brush[0], colours.brush[1], colours.brush[2])
    return ImageSource(width: e.width, height: e.height) { w, h in
      guard let base = ImageMemo.shared.image(path: path, width: w, height: h) else { return nil }
      var out = base.blendingOverlay(mask.resized(width: w, height: h), colour: maskColour, alpha: 0.45)
      // The brush ring, in display pixels.
      let sx = Double(w) / Double(mask.width)
      let sy = Double(h) / Double(mask.height)
      let cx = (Double(cursor.0) + 0.5) * sx
      let cy = (Double(cursor.1) + 0.5) * sy
      let r = max(1.5, Double(radius) * sx)
      let steps = max(16, Int(r * 8))
      for i in 0..<steps {
        let t = Double(i) / Double(steps) * 2 * Double.pi
        let x = Int((cx + r * cos(t)).rounded())
        let y = Int((cy + r * sin(t)).rounded())
        if x >= 0, y >= 0, x < w, y < h { out[x, y] = brush }
      }
      let px = Int(cx)
      let py = Int(cy)
      if px >= 0, py >= 0, px < w, py < h { out[px, py] = brush }
      return out
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

/// The last few decoded and scaled case images, so the mask editor's redraws do not decode
/// the file again. Shared by the renderer's calls (one thread), locked for safety.
final class ImageMemo: @unchecked Sendable {
  static let shared = ImageMemo()
  private let lock = NSLock()
  private var decoded: [String: RGBImage] = [:]
  private var scaled: [String: RGBImage] = [:]
  private var order: [String] = []

  func image(path: String, width: Int, height: Int) -> RGBImage? {
    lock.lock()
    defer { lock.unlock() }
    let key = "\(width)x\(height)|\(path)"
    if let hit = scaled[key] { return hit }
    let original: RGBImage
    if let d = decoded[path] {
      original = d
    } else {
      guard let d = try? decodeImage(at: path) else { return nil }
      decoded = [path: d]  // keep one original
      original = d
    }
    let image = original.resized(width: width, height: height)
    scaled[key] = image
    order.append(key)
    if order.count > 4 { scaled[order.removeFirst()] = nil }
    return image
  }
}
