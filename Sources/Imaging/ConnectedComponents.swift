// Connected components of a thresholded mask: the model's nucleus detection (DESIGN §4:
// probability map → components → boxes → NMS) and the agreement code's object matching
// both start here.

/// Which neighbours touch: 4 (edges) or 8 (edges and corners).
public enum Connectivity: Sendable, Equatable {
  case four, eight
}

/// One connected region of foreground pixels.
public struct Component: Sendable, Equatable {
  /// 1...count, in the order the regions are first met scanning rows top to bottom.
  public let label: Int32
  /// Pixel count.
  public let area: Int
  /// The smallest rectangle holding every pixel of the region.
  public let bbox: PixelRect
}

/// A label per pixel (0 = background) and a summary per component.
public struct ComponentLabels: Sendable, Equatable {
  public let width: Int
  public let height: Int
  /// Row-major, `width * height`; 0 is background, 1...count the component's label.
  public let labels: [Int32]
  public let count: Int
  /// `components[k - 1]` is label k.
  public let components: [Component]

  /// The pixels of one component as a 0/255 mask.
  public func mask(of label: Int32) -> Mask {
    Mask(width: width, height: height, values: labels.map { $0 == label ? 255 : 0 })
  }
}

extension Mask {
  /// Labels the regions of pixels with value >= `threshold` (so the default 128 counts the
  /// wbc-seg cytoplasm with the nucleus; use 255 for nuclei only).
  ///
  /// Flood fill with an explicit stack: linear time, no recursion depth limit on large
  /// regions, and deterministic label order (row-major order of each region's first pixel).
  public func connectedComponents(connectivity: Connectivity = .eight, threshold: UInt8 = 128)
    -> ComponentLabels
  {
    var labels = [Int32](repeating: 0, count: width * height)
    var components: [Component] = []
    var stack: [Int] = []
    let offsets: [(Int, Int)] =
      connectivity == .four
      ? [(1, 0), (-1, 0), (0, 1), (0, -1)]
      : [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)]
    values.withUnsafeBufferPointer { v in
      labels.withUnsafeMutableBufferPointer { l in
        for start in 0..<v.count where v[start] >= threshold && l[start] == 0 {
          let label = Int32(components.count + 1)
          var area = 0
          var minX = Int.max
          var minY = Int.max
          var maxX = Int.min
          var maxY = Int.min
          l[start] = label
          stack.append(start)
          while let p = stack.popLast() {
            let x = p % width
            let y = p / width
            area += 1
            minX = Swift.min(minX, x)
            maxX = Swift.max(maxX, x)
            minY = Swift.min(minY, y)
            maxY = Swift.max(maxY, y)
            for (dx, dy) in offsets {
              let nx = x + dx
              let ny = y + dy
              guard nx >= 0, nx < width, ny >= 0, ny < height else { continue }
              let q = ny * width + nx
              if v[q] >= threshold && l[q] == 0 {
                l[q] = label
                stack.append(q)
              }
            }
          }
          components.append(
            Component(
              label: label, area: area,
              bbox: PixelRect(x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1)))
        }
      }
    }
    return ComponentLabels(
      width: width, height: height, labels: labels, count: components.count, components: components)
  }
}
