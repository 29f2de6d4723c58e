import FileSafety
import Foundation
import Imaging
import Terminal

/// Image sources for the view, from pictures already in the state (`CasePictures`): they scale,
/// blend overlays and draw the brush when the renderer asks for pixels, and never read a file.
/// A runner keeps one for its session (`ReviewApp.images`), so the scaled case image is kept
/// between frames (`memo`) and a mask editor stroke costs a blend and an encode, not a resize.
public final class CaseImages: Sendable {
  /// Longest side of a cached thumbnail: enough for a 19 × 6-cell tile at 10 × 20 px cells.
  public static let thumbnailSide = 256

  let memo = ImageMemo()

  public init() {}

  /// `picture` (read from `path`) scaled to what the renderer asks for; nothing when the
  /// picture is not loaded or could not be read.
  public func image(_ picture: RGBImage?, path: String, width: Int, height: Int) -> ImageSource {
    let memo = self.memo
    return ImageSource(width: max(1, width), height: max(1, height)) { w, h in
      picture.map { memo.image($0, path: path, width: w, height: h) }
    }
  }

  /// A browser thumbnail, scaled to the tile (the natural size gives the aspect ratio).
  public func thumbnail(_ picture: RGBImage?, width: Int, height: Int) -> ImageSource {
    ImageSource(width: max(1, width), height: max(1, height)) { w, h in
      picture.map { $0.width == w && $0.height == h ? $0 : $0.resized(width: w, height: h) }
    }
  }

  /// The case image with the editor's mask drawn (filled or as its outline, `style`) and the
  /// cursor drawn over it as a `CursorMarker`: the brush ring and a cross at the cursor pixel,
  /// each pixel contrasting with what is beneath it, at the size the renderer asks for.
  public func editing(
    _ picture: RGBImage?, path: String, editor e: MaskEditor, colours: OverlayColours,
    style: MaskOverlayStyle = .fill
  )
    -> ImageSource
  {
    let mask = e.mask
    let cursor = (e.cursorX, e.cursorY)
    let radius = e.radius
    let maskColour = colours.myMask
    let brush = (colours.brush[0], colours.brush[1], colours.brush[2])
    let memo = self.memo
    return ImageSource(
      width: e.width, height: e.height,
      base: { w, h in picture.map { memo.image($0, path: path, width: w, height: h) } },
      decorate: { image, shown in
        image = image.drawingMask(
          mask.part(shown, width: image.width, height: image.height), colour: maskColour, style: style)
        // The cursor, in display pixels of the part shown.
        let sx = Double(image.width) / Double(max(1, shown.width))
        let sy = Double(image.height) / Double(max(1, shown.height))
        CursorMarker.draw(
          into: &image, cx: (Double(cursor.0 - shown.x) + 0.5) * sx,
          cy: (Double(cursor.1 - shown.y) + 0.5) * sy,
          radius: max(1.5, Double(radius) * sx), brush: brush)
      })
  }

  /// Whether `<cache>/<user>/<kind>/file`'s user folder is this user's own (made 0700 when
  /// missing), with its `<kind>` folder made inside it.
  static func ownCacheFolder(for file: String) -> Bool {
    let kind = (file as NSString).deletingLastPathComponent
    let user = (kind as NSString).deletingLastPathComponent
    let cache = (user as NSString).deletingLastPathComponent
    guard (try? SafeFile.privateDirectory(in: cache)) == user else { return false }
    return (try? SafeFile.makeDirectories(kind)) != nil
  }
}

/// The last few scaled case images of one `CaseImages`, by file and size. The renderer calls it
/// on the app's thread; it is locked because image sources are `Sendable`.
final class ImageMemo: @unchecked Sendable {
  private let lock = NSLock()
  private var scaled: [String: RGBImage] = [:]
  private var order: [String] = []

  func image(_ original: RGBImage, path: String, width: Int, height: Int) -> RGBImage {
    lock.lock()
    defer { lock.unlock() }
    let key = "\(width)x\(height)|\(path)"
    if let hit = scaled[key] { return hit }
    let image =
      original.width == width && original.height == height
      ? original : original.resized(width: width, height: height)
    scaled[key] = image
    order.append(key)
    if order.count > 4 { scaled[order.removeFirst()] = nil }
    return image
  }
}
