import Foundation
import Imaging

/// The decoded images the view draws. The runner reads them from disk (`Effect.loadThumbnails`,
/// `Effect.loadCaseImage`) and they come back as events, so the view never touches a file.
public struct CasePictures: Equatable, Sendable {
  /// The browser page's thumbnails by case id; a nil image: the file could not be read.
  public var thumbnails: [Int64: RGBImage?] = [:]
  /// The file the open case's image was read from, and the image (nil: unreadable).
  public var casePath: String?
  public var caseImage: RGBImage?

  public init() {}

  /// The case image read from `path`, when it is the one loaded.
  public func caseImage(at path: String) -> RGBImage? { casePath == path ? caseImage : nil }
}

/// One browser thumbnail to read: the cached thumbnail file, else the case's image.
public struct ThumbnailRequest: Equatable, Sendable {
  public var caseID: Int64
  public var path: String
  public var cachePath: String

  public init(caseID: Int64, path: String, cachePath: String) {
    self.caseID = caseID
    self.path = path
    self.cachePath = cachePath
  }
}

/// Thumbnails for the page's cases not read yet; those of cases no longer on it are dropped.
func thumbnailEffects(_ s: inout AppState) -> [Effect] {
  guard s.graphics, let page = s.page else { return [] }
  let ids = Set(page.rows.map(\.id))
  s.pictures.thumbnails = s.pictures.thumbnails.filter { ids.contains($0.key) }
  let missing = page.rows.filter { !s.pictures.thumbnails.keys.contains($0.id) }.map {
    ThumbnailRequest(caseID: $0.id, path: $0.imagePath, cachePath: $0.thumbnailPath)
  }
  return missing.isEmpty ? [] : [.loadThumbnails(missing)]
}

/// The case image at `path`, unless it is the one already read.
func caseImageEffects(_ s: AppState, path: String) -> [Effect] {
  guard s.graphics, s.pictures.casePath != path else { return [] }
  return [.loadCaseImage(path: path)]
}

/// Reading case images for the runner.
enum CaseImageFiles {
  /// A thumbnail: the cache file when present, else the original scaled to at most
  /// `CaseImages.thumbnailSide` and written to the cache (atomically, for the next session).
  /// The cache (`cache/<user>/thumbnails/<sha>.png`) is used only when its user folder is
  /// verified as this user's own: a picture another user planted there would be shown as
  /// the case. `load` reads the case's image from its path (a file, or a shared workspace's
  /// database).
  static func thumbnail(_ r: ThumbnailRequest, load: (String) -> RGBImage?) -> RGBImage? {
    let cacheUsable = CaseImages.ownCacheFolder(for: r.cachePath)
    if cacheUsable, let cached = try? decodeImage(at: r.cachePath) { return cached }
    guard let image = load(r.path) else { return nil }
    let scale = min(1, Double(CaseImages.thumbnailSide) / Double(max(image.width, image.height)))
    let small = image.resized(
      width: max(1, Int(Double(image.width) * scale)), height: max(1, Int(Double(image.height) * scale)))
    if cacheUsable { try? writePNG(small, to: r.cachePath) }
    return small
  }
}
