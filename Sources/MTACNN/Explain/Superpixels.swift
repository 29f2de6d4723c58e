import Foundation
import Imaging

/// A partition of an image into regions (superpixels): the features LIME switches on and off.
///
/// Labels are `0 ..< count`, numbered in raster order of each region's first pixel, so two runs on
/// the same image give the same numbering (LIME's weights are reported per label).
public struct Superpixels: Equatable, Sendable {
  public let width: Int
  public let height: Int
  /// One label per pixel, row-major.
  public let labels: [Int32]
  public let count: Int

  public init(width: Int, height: Int, labels: [Int32]) {
    precondition(width > 0 && height > 0 && labels.count == width * height)
    // Renumber in raster order of first appearance: callers may hand in any label values.
    var map: [Int32: Int32] = [:]
    var out = [Int32](repeating: 0, count: labels.count)
    for i in 0..<labels.count {
      if let m = map[labels[i]] {
        out[i] = m
      } else {
        let m = Int32(map.count)
        map[labels[i]] = m
        out[i] = m
      }
    }
    self.width = width
    self.height = height
    self.labels = out
    self.count = map.count
  }

  /// Pixels per region.
  public var areas: [Int] {
    var a = [Int](repeating: 0, count: count)
    for l in labels { a[Int(l)] += 1 }
    return a
  }

  /// Each region's bounding box.
  public var boundingBoxes: [PixelRect] {
    var x0 = [Int](repeating: .max, count: count)
    var y0 = x0
    var x1 = [Int](repeating: -1, count: count)
    var y1 = x1
    for y in 0..<height {
      for x in 0..<width {
        let l = Int(labels[y * width + x])
        x0[l] = min(x0[l], x)
        y0[l] = min(y0[l], y)
        x1[l] = max(x1[l], x)
        y1[l] = max(y1[l], y)
      }
    }
    return (0..<count).map {
      PixelRect(x: x0[$0], y: y0[$0], width: x1[$0] - x0[$0] + 1, height: y1[$0] - y0[$0] + 1)
    }
  }

  /// The same partition at another size, by nearest neighbour (source index ⌊(2o + 1)·in / (2·out)⌋,
  /// the rule masks follow), so region outlines can be drawn on the full-size image.
  public func resized(width w: Int, height h: Int) -> Superpixels {
    if w == width && h == height { return self }
    var out = [Int32](repeating: 0, count: w * h)
    for y in 0..<h {
      let sy = (2 * y + 1) * height / (2 * h)
      for x in 0..<w {
        let sx = (2 * x + 1) * width / (2 * w)
        out[y * w + x] = labels[sy * width + sx]
      }
    }
    return Superpixels(width: w, height: h, labels: out)
  }

  /// The outline of each listed region: its pixels that touch another region or the image edge
  /// (4-neighbours), as a 0/255 mask. Adjacent listed regions keep their shared border.
  public func outline(of regions: [Int]) -> Mask {
    var wanted = [Bool](repeating: false, count: count)
    for r in regions where r >= 0 && r < count { wanted[r] = true }
    var m = Mask(width: width, height: height)
    for y in 0..<height {
      for x in 0..<width {
        let l = labels[y * width + x]
        guard wanted[Int(l)] else { continue }
        let edge =
          x == 0 || y == 0 || x == width - 1 || y == height - 1
          || labels[y * width + x - 1] != l || labels[y * width + x + 1] != l
          || labels[(y - 1) * width + x] != l || labels[(y + 1) * width + x] != l
        if edge { m.values[y * width + x] = 255 }
      }
    }
    return m
  }

  // MARK: Regular grid

  /// A regular grid of about `regions` rectangular cells, as square as the aspect ratio allows:
  /// the baseline LIME is compared with (a grid ignores image content).
  public static func grid(width: Int, height: Int, regions: Int) -> Superpixels {
    precondition(width > 0 && height > 0 && regions > 0)
    let nx = max(
      1, min(width, Int((Double(regions) * Double(width) / Double(height)).squareRoot().rounded())))
    let ny = max(1, min(height, Int((Double(regions) / Double(nx)).rounded())))
    var labels = [Int32](repeating: 0, count: width * height)
    for y in 0..<height {
      let j = y * ny / height
      for x in 0..<width {
        labels[y * width + x] = Int32(j * nx + x * nx / width)
      }
    }
    return Superpixels(width: width, height: height, labels: labels)
  }

  // MARK: SLIC

  /// SLIC superpixels (Achanta et al., IEEE TPAMI 34(11), 2012) on CIE Lab colour.
  ///
  /// The Lab planes are first smoothed by a Gaussian of `sigma` pixels (scikit-image's `sigma`), so
  /// pixel noise and JPEG ringing do not scatter the clusters into fragments. Cluster centres start
  /// on a regular grid of about `regions` cells (step S), each moved to the
  /// lowest colour gradient of its 3 × 3 neighbourhood so it does not sit on an edge; then
  /// `iterations` rounds of local k-means: every pixel within ±S of a centre joins the centre that
  /// minimises d_lab² + (d_xy / S)² · m² (m = `compactness`, in Lab units: larger gives squarer
  /// regions), and centres move to their members' mean. Finally each label is made one 4-connected
  /// region: stray fragments and regions under a quarter of the expected size join the neighbour
  /// with which they share the longest border. The result is deterministic.
  public static func slic(
    _ image: PlanarImage, regions: Int = 50, compactness: Double = 10, sigma: Double = 1, iterations: Int = 10
  ) -> Superpixels {
    precondition(regions > 0 && compactness >= 0 && sigma >= 0 && iterations >= 0)
    let w = image.width
    let h = image.height
    precondition(w > 0 && h > 0, "SLIC needs a non-empty image")
    let n = w * h
    // Lab planes.
    var lab = [Double](repeating: 0, count: 3 * n)
    image.data.withUnsafeBufferPointer { d in
      for i in 0..<n {
        let (l, a, b) = Reinhard.lab(Double(d[i]), Double(d[n + i]), Double(d[2 * n + i]))
        lab[i] = l
        lab[n + i] = a
        lab[2 * n + i] = b
      }
    }
    if sigma > 0 {
      for c in 0..<3 { gaussianBlur(&lab, offset: c * n, width: w, height: h, sigma: sigma) }
    }
    func gradient(_ x: Int, _ y: Int) -> Double {
      let xl = max(x - 1, 0)
      let xr = min(x + 1, w - 1)
      let yu = max(y - 1, 0)
      let yd = min(y + 1, h - 1)
      var g = 0.0
      for c in 0..<3 {
        let dx = lab[c * n + y * w + xr] - lab[c * n + y * w + xl]
        let dy = lab[c * n + yd * w + x] - lab[c * n + yu * w + x]
        g += dx * dx + dy * dy
      }
      return g
    }

    let step = (Double(n) / Double(regions)).squareRoot()
    let nx = max(1, min(w, Int((Double(w) / step).rounded())))
    let ny = max(1, min(h, Int((Double(h) / step).rounded())))
    // Centres: (L, a, b, x, y).
    var centres: [[Double]] = []
    centres.reserveCapacity(nx * ny)
    for j in 0..<ny {
      for i in 0..<nx {
        var cx = (2 * i + 1) * w / (2 * nx)
        var cy = (2 * j + 1) * h / (2 * ny)
        var best = gradient(cx, cy)
        let (ox, oy) = (cx, cy)
        for dy in -1...1 {
          for dx in -1...1 {
            let x = ox + dx
            let y = oy + dy
            guard x >= 0, y >= 0, x < w, y < h else { continue }
            let g = gradient(x, y)
            if g < best {
              best = g
              cx = x
              cy = y
            }
          }
        }
        let p = cy * w + cx
        centres.append([lab[p], lab[n + p], lab[2 * n + p], Double(cx), Double(cy)])
      }
    }

    let s = max(Double(w) / Double(nx), Double(h) / Double(ny))
    let radius = Int(s.rounded(.up))
    let spatial = compactness * compactness / (s * s)
    var label = [Int32](repeating: 0, count: n)
    var distance = [Double](repeating: .infinity, count: n)
    // Start from the nearest grid cell so pixels no window reaches still have a label.
    for y in 0..<h {
      for x in 0..<w {
        label[y * w + x] = Int32((y * ny / h) * nx + x * nx / w)
      }
    }
    for _ in 0..<iterations {
      for i in 0..<n { distance[i] = .infinity }
      for (k, c) in centres.enumerated() {
        let cx = Int(c[3].rounded())
        let cy = Int(c[4].rounded())
        for y in max(0, cy - radius)..<min(h, cy + radius + 1) {
          let dy = Double(y) - c[4]
          for x in max(0, cx - radius)..<min(w, cx + radius + 1) {
            let p = y * w + x
            let dl = lab[p] - c[0]
            let da = lab[n + p] - c[1]
            let db = lab[2 * n + p] - c[2]
            let dx = Double(x) - c[3]
            let d = dl * dl + da * da + db * db + (dx * dx + dy * dy) * spatial
            if d < distance[p] {
              distance[p] = d
              label[p] = Int32(k)
            }
          }
        }
      }
      var sums = [[Double]](repeating: [0, 0, 0, 0, 0], count: centres.count)
      var counts = [Int](repeating: 0, count: centres.count)
      for y in 0..<h {
        for x in 0..<w {
          let p = y * w + x
          let k = Int(label[p])
          sums[k][0] += lab[p]
          sums[k][1] += lab[n + p]
          sums[k][2] += lab[2 * n + p]
          sums[k][3] += Double(x)
          sums[k][4] += Double(y)
          counts[k] += 1
        }
      }
      for k in 0..<centres.count where counts[k] > 0 {
        centres[k] = sums[k].map { $0 / Double(counts[k]) }
      }
    }
    let connected = enforceConnectivity(
      label, width: w, height: h, minimumSize: max(1, n / (4 * centres.count)))
    return Superpixels(width: w, height: h, labels: connected)
  }

  /// Relabels so every region is one 4-connected component of at least `minimumSize` pixels.
  ///
  /// The k-means labels are split into 4-connected components; components of `minimumSize` pixels
  /// or more become regions, and each smaller one joins the region it shares the longest border
  /// with (ties: the lower-numbered one), repeating until none is left. The SLIC authors' code joins a
  /// fragment to the neighbour met first in raster order instead; on a noisy image (many one-pixel
  /// fragments) that chains fragments across the image into one sprawling region.
  static func enforceConnectivity(_ label: [Int32], width w: Int, height h: Int, minimumSize: Int) -> [Int32]
  {
    let n = w * h
    // 1. Components of equal labels.
    var component = [Int32](repeating: -1, count: n)
    var sizes: [Int] = []
    var stack: [Int] = []
    for start in 0..<n where component[start] < 0 {
      let id = Int32(sizes.count)
      var size = 0
      component[start] = id
      stack.append(start)
      while let p = stack.popLast() {
        size += 1
        let x = p % w
        for q in [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, p >= w ? p - w : -1, p + w < n ? p + w : -1]
        where q >= 0 && component[q] < 0 && label[q] == label[start] {
          component[q] = id
          stack.append(q)
        }
      }
      sizes.append(size)
    }
    // 2. Large components are regions; if none is, the largest one is.
    var region = sizes.map { $0 >= minimumSize ? 0 : -1 }
    if !region.contains(0), let largest = sizes.indices.max(by: { sizes[$0] < sizes[$1] }) {
      region[largest] = 0
    }
    for c in region.indices where region[c] == 0 { region[c] = c }
    // 3. Small components join the resolved neighbour with the longest shared border.
    var pending = region.indices.filter { region[$0] < 0 }
    var members = [[Int]](repeating: [], count: sizes.count)
    if !pending.isEmpty {
      for p in 0..<n where region[Int(component[p])] < 0 { members[Int(component[p])].append(p) }
    }
    while !pending.isEmpty {
      var left: [Int] = []
      for c in pending {
        var border: [Int: Int] = [:]
        var firstSeen: [Int] = []
        for p in members[c] {
          let x = p % w
          for q in [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, p >= w ? p - w : -1, p + w < n ? p + w : -1]
          where q >= 0 {
            let r = region[Int(component[q])]
            guard r >= 0 else { continue }
            if border[r] == nil { firstSeen.append(r) }
            border[r, default: 0] += 1
          }
        }
        var best = -1
        for r in firstSeen
        where best < 0 || border[r]! > border[best]! || (border[r]! == border[best]! && r < best) {
          best = r
        }
        if best >= 0 {
          region[c] = best
        } else {
          left.append(c)
        }
      }
      pending = left
    }
    return component.map { Int32(region[Int($0)]) }
  }

  /// A separable Gaussian blur (radius ⌈3σ⌉, edges clamped) of one `width` × `height` plane stored
  /// at `offset` in `data`.
  static func gaussianBlur(_ data: inout [Double], offset: Int, width w: Int, height h: Int, sigma: Double) {
    let r = Int((3 * sigma).rounded(.up))
    var k = (-r...r).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
    let total = k.reduce(0, +)
    k = k.map { $0 / total }
    var tmp = [Double](repeating: 0, count: w * h)
    for y in 0..<h {
      for x in 0..<w {
        var s = 0.0
        for j in -r...r { s += k[j + r] * data[offset + y * w + min(max(x + j, 0), w - 1)] }
        tmp[y * w + x] = s
      }
    }
    for y in 0..<h {
      for x in 0..<w {
        var s = 0.0
        for j in -r...r { s += k[j + r] * tmp[min(max(y + j, 0), h - 1) * w + x] }
        data[offset + y * w + x] = s
      }
    }
  }
}
