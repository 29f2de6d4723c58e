import Imaging

/// How an image sits in its cell rectangle: the pixel size it is encoded at (in the
/// backend's pixels) and the cells those pixels cover, from the rectangle's top-left.
public struct ImageFit: Hashable, Sendable {
  public var pixelWidth: Int
  public var pixelHeight: Int
  public var coveredColumns: Int
  public var coveredRows: Int

  /// Fits a `sourceWidth` × `sourceHeight` image into `columns` × `rows` cells of
  /// `cellWidth` × `cellHeight` screen pixels, keeping its aspect ratio on screen.
  public static func fit(
    sourceWidth: Int, sourceHeight: Int, columns: Int, rows: Int, cellWidth: Int, cellHeight: Int,
    backend: GraphicsBackend
  ) -> ImageFit {
    guard sourceWidth > 0, sourceHeight > 0, columns > 0, rows > 0, cellWidth > 0, cellHeight > 0
    else { return ImageFit(pixelWidth: 0, pixelHeight: 0, coveredColumns: 0, coveredRows: 0) }
    let boxW = Double(columns * cellWidth)
    let boxH = Double(rows * cellHeight)
    let scale = min(boxW / Double(sourceWidth), boxH / Double(sourceHeight))
    let screenW = min(boxW, (Double(sourceWidth) * scale).rounded())
    let screenH = min(boxH, (Double(sourceHeight) * scale).rounded())
    switch backend {
    case .sixel, .none:
      let w = max(1, Int(screenW))
      let h = max(1, Int(screenH))
      return ImageFit(
        pixelWidth: w, pixelHeight: h, coveredColumns: (w + cellWidth - 1) / cellWidth,
        coveredRows: (h + cellHeight - 1) / cellHeight)
    case .halfBlocks:
      let w = min(columns, max(1, Int((screenW / Double(cellWidth)).rounded())))
      let h = min(rows * 2, max(1, Int((screenH / (Double(cellHeight) / 2)).rounded())))
      return ImageFit(pixelWidth: w, pixelHeight: h, coveredColumns: w, coveredRows: (h + 1) / 2)
    }
  }
}

/// Decides which images to erase and draw for each frame, encodes them (through the cache)
/// and produces the bytes; shared by the ncurses renderer and the headless one.
///
/// The rules follow DESIGN §8: images go after the text refresh, each wrapped in save/restore
/// cursor (`ESC 7` … `ESC 8`); an image that goes away is erased with erase-characters
/// (`CSI n X`) over its rows, before the text refresh so the text drawn there survives;
/// images never touch the screen's last row (a sixel there scrolls the screen out of step
/// with curses); an image is redrawn only if its key or rectangle changed, or only its damaged
/// cells when it says what changed.
public final class ImagePainter {
  /// An image on screen now.
  struct Drawn: Equatable {
    var key: String
    var rect: CellRect
    var fit: ImageFit
  }

  /// Counters for benchmarks and tests.
  public struct Statistics: Equatable, Sendable {
    public var imagesDrawn = 0
    public var partialDraws = 0
    public var imagesErased = 0
    public var encodes = 0
    public var imageBytes = 0
  }

  /// What one frame needs from the terminal besides its text.
  public struct Paint: Sendable {
    /// Written before the text refresh: erases images that went away or moved.
    public var eraseBytes: [UInt8] = []
    /// Screen rows the erase touched; the text renderer must repaint them fully.
    public var erasedRows: Set<Int> = []
    /// Written after the text refresh: the images.
    public var drawBytes: [UInt8] = []
  }

  public private(set) var backend: GraphicsBackend
  public private(set) var cellWidth: Int
  public private(set) var cellHeight: Int
  public let cache: EncodedImageCache
  public private(set) var statistics = Statistics()
  private var onScreen: [Drawn] = []

  public init(backend: GraphicsBackend, cellWidth: Int, cellHeight: Int, cache: EncodedImageCache = .init()) {
    self.backend = backend
    self.cellWidth = max(1, cellWidth)
    self.cellHeight = max(1, cellHeight)
    self.cache = cache
  }

  /// Changes backend or cell size (after a resize or a font change): everything is redrawn.
  public func reconfigure(backend: GraphicsBackend, cellWidth: Int, cellHeight: Int) {
    self.backend = backend
    self.cellWidth = max(1, cellWidth)
    self.cellHeight = max(1, cellHeight)
    onScreen.removeAll()
  }

  /// Forgets what is on screen, after the screen was cleared: the next frame draws all.
  public func screenWasCleared() { onScreen.removeAll() }

  /// The keys, rectangles and fits of the images on screen now (for tests and reports).
  public var drawnImages: [(key: String, rect: CellRect, fit: ImageFit)] {
    onScreen.map { ($0.key, $0.rect, $0.fit) }
  }

  /// Works out and encodes what `frame`'s images need, on a screen `screenRows` high.
  public func paint(_ frame: Frame, screenRows: Int) -> Paint {
    var paint = Paint()
    let usable = CellRect(row: 0, column: 0, rows: max(0, screenRows - 1), columns: frame.columns)
    var next: [Drawn] = []
    var draws: [(ImagePlacement, Drawn, partial: CellRect?)] = []

    if backend.drawsImages {
      for placement in frame.images {
        let rect = placement.rect.clipped(to: usable)
        guard !rect.isEmpty else { continue }
        let fit = ImageFit.fit(
          sourceWidth: placement.source.width, sourceHeight: placement.source.height,
          columns: rect.columns, rows: rect.rows, cellWidth: cellWidth, cellHeight: cellHeight,
          backend: backend)
        guard fit.pixelWidth > 0 else { continue }
        let drawn = Drawn(key: placement.key, rect: rect, fit: fit)
        next.append(drawn)
        if onScreen.contains(drawn) { continue }
        if let damage = placement.damages.first(where: {
          onScreen.contains(Drawn(key: $0.since, rect: rect, fit: fit))
        }) {
          draws.append((placement, drawn, damagedCells(damage, fit: fit)))
        } else {
          draws.append((placement, drawn, nil))
        }
      }
    }

    // Erase what is no longer drawn in the same place, unless the image replacing it in the
    // same rectangle covers at least the same pixels.
    for old in onScreen where !next.contains(old) {
      let replaced = draws.contains {
        $0.1.rect == old.rect && $0.1.fit.pixelWidth >= old.fit.pixelWidth
          && $0.1.fit.pixelHeight >= old.fit.pixelHeight
      }
      if replaced { continue }
      let covered = CellRect(
        row: old.rect.row, column: old.rect.column, rows: old.fit.coveredRows,
        columns: old.fit.coveredColumns)
      appendErase(covered, to: &paint)
      statistics.imagesErased += 1
    }

    for (placement, drawn, partial) in draws {
      appendDraw(placement, drawn, partial: partial, to: &paint)
    }
    onScreen = next
    statistics.imageBytes += paint.eraseBytes.count + paint.drawBytes.count
    return paint
  }

  /// The cells (relative to the image's top-left) covering a damaged region, with one pixel
  /// of margin for the scaling filter's reach.
  func damagedCells(_ d: ImageDamage, fit: ImageFit) -> CellRect {
    let (pw, ph) = backend.pixelsPerCell(cellWidth: cellWidth, cellHeight: cellHeight)
    let x0 = Int((d.x * Double(fit.pixelWidth)).rounded(.down)) - 1
    let y0 = Int((d.y * Double(fit.pixelHeight)).rounded(.down)) - 1
    let x1 = Int(((d.x + d.width) * Double(fit.pixelWidth)).rounded(.up)) + 1
    let y1 = Int(((d.y + d.height) * Double(fit.pixelHeight)).rounded(.up)) + 1
    let c0 = max(0, x0 / pw)
    let r0 = max(0, y0 / ph)
    let c1 = min(fit.coveredColumns, (x1 + pw - 1) / pw)
    let r1 = min(fit.coveredRows, (y1 + ph - 1) / ph)
    return CellRect(row: r0, column: c0, rows: max(0, r1 - r0), columns: max(0, c1 - c0))
  }

  private func appendErase(_ rect: CellRect, to paint: inout Paint) {
    guard !rect.isEmpty else { return }
    paint.eraseBytes += Escape.saveCursor + Escape.resetAttributes
    for row in rect.row..<rect.bottom {
      paint.eraseBytes += Escape.moveTo(row: row, column: rect.column)
      paint.eraseBytes += Escape.eraseCharacters(rect.columns)
      paint.erasedRows.insert(row)
    }
    paint.eraseBytes += Escape.restoreCursor
  }

  private func appendDraw(
    _ placement: ImagePlacement, _ drawn: Drawn, partial: CellRect?, to paint: inout Paint
  ) {
    let fit = drawn.fit
    let cacheKey = EncodedImageKey(
      key: placement.key, width: fit.pixelWidth, height: fit.pixelHeight, backend: backend)
    var encoded: EncodedImage?
    var origin = (row: drawn.rect.row, column: drawn.rect.column)
    if let partial {
      if partial.isEmpty { return }
      guard let full = placement.source.render(fit.pixelWidth, fit.pixelHeight) else { return }
      let (pw, ph) = backend.pixelsPerCell(cellWidth: cellWidth, cellHeight: cellHeight)
      let x = partial.column * pw
      let y = partial.row * ph
      let w = min(fit.pixelWidth - x, partial.columns * pw)
      let h = min(fit.pixelHeight - y, partial.rows * ph)
      guard w > 0, h > 0 else { return }
      encoded = encode(crop(full, x: x, y: y, width: w, height: h))
      origin = (drawn.rect.row + partial.row, drawn.rect.column + partial.column)
      statistics.partialDraws += 1
    } else if let hit = cache.lookup(cacheKey) {
      encoded = hit
    } else if let pixels = placement.source.render(fit.pixelWidth, fit.pixelHeight),
      pixels.width == fit.pixelWidth, pixels.height == fit.pixelHeight
    {
      encoded = encode(pixels)
      if let encoded { cache.store(encoded, for: cacheKey) }
    }
    guard let encoded else { return }
    statistics.imagesDrawn += 1
    paint.drawBytes += Escape.saveCursor
    switch encoded {
    case .sixel(let bytes):
      paint.drawBytes += Escape.moveTo(row: origin.row, column: origin.column)
      paint.drawBytes += bytes
    case .blocks(let rows):
      for (i, row) in rows.enumerated() {
        paint.drawBytes += Escape.moveTo(row: origin.row + i, column: origin.column)
        paint.drawBytes += row
      }
    }
    paint.drawBytes += Escape.restoreCursor
  }

  private func encode(_ image: RGBImage) -> EncodedImage? {
    statistics.encodes += 1
    switch backend {
    case .sixel(let colors):
      return (try? SixelEncoder.encode(image, colors: colors)).map { .sixel($0) }
    case .halfBlocks(let trueColor):
      return .blocks(HalfBlockEncoder.encode(image, trueColor: trueColor))
    case .none:
      return nil
    }
  }

  private func crop(_ image: RGBImage, x: Int, y: Int, width: Int, height: Int) -> RGBImage {
    var out = [UInt8](repeating: 0, count: width * height * 3)
    for row in 0..<height {
      let src = ((y + row) * image.width + x) * 3
      out.replaceSubrange(
        row * width * 3..<(row + 1) * width * 3, with: image.pixels[src..<src + width * 3])
    }
    return RGBImage(width: width, height: height, pixels: out)
  }
}
