import Imaging

/// COCO run-length encoding of a binary mask, as pycocotools reads it.
///
/// The mask is read in column-major (Fortran) order; `counts` alternate runs of 0 and 1,
/// starting with 0 (so a mask starting with a foreground pixel begins with a 0-length run).
/// The compressed string form writes each count (from the third on, as the difference to
/// the count two before) as a little-endian sequence of 5-bit groups, each offset by 48 into
/// printable ASCII, with 0x20 marking "more groups follow" and sign extension from bit 4.
/// `Tests/CaseStoreTests/Fixtures/coco_rle.json` holds pycocotools' own encodings of test
/// masks; the test compares byte for byte.
enum COCORLE {
  /// Run lengths of `inside(x, y)` over a `width` × `height` grid in column-major order.
  static func counts(width: Int, height: Int, inside: (Int, Int) -> Bool) -> [Int] {
    var counts: [Int] = []
    var current = false
    var run = 0
    for x in 0..<width {
      for y in 0..<height {
        let v = inside(x, y)
        if v != current {
          counts.append(run)
          run = 0
          current = v
        }
        run += 1
      }
    }
    counts.append(run)
    return counts
  }

  /// The compressed counts string.
  static func string(_ counts: [Int]) -> String {
    var out: [UInt8] = []
    for i in counts.indices {
      var x = counts[i]
      if i > 2 { x -= counts[i - 2] }
      var more = true
      while more {
        var c = UInt8(truncatingIfNeeded: x & 0x1f)
        x >>= 5  // arithmetic shift keeps the sign
        more = (c & 0x10) != 0 ? x != -1 : x != 0
        if more { c |= 0x20 }
        out.append(c + 48)
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// One COCO instance per 8-connected component of the mask's foreground (value >= 128):
  /// its compressed RLE, area and bounding box `[x, y, width, height]`.
  static func instances(of mask: Mask) -> [(rle: String, area: Int, bbox: [Int])] {
    let components = mask.connectedComponents(connectivity: .eight, threshold: 128)
    return components.components.map { c in
      let counts = COCORLE.counts(width: mask.width, height: mask.height) { x, y in
        components.labels[y * mask.width + x] == c.label
      }
      return (string(counts), c.area, [c.bbox.x, c.bbox.y, c.bbox.width, c.bbox.height])
    }
  }
}
