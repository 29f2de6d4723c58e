import Foundation
import Imaging
import Testing

@testable import MTACNN

/// A seeded test image: `blocks` × `blocks` flat colour blocks with ±`noise` per channel.
func blockImage(size: Int, blocks: Int, noise: Float, seed: UInt64) -> PlanarImage {
  var rng = SplitMix64(seed: seed)
  let colours = (0..<(blocks * blocks)).map { _ in (Float(rng.unit()), Float(rng.unit()), Float(rng.unit())) }
  var p = PlanarImage(width: size, height: size)
  let n = size * size
  for y in 0..<size {
    for x in 0..<size {
      let c = colours[(y * blocks / size) * blocks + x * blocks / size]
      let i = y * size + x
      p.data[i] = min(max(c.0 + Float(rng.symmetric(Double(noise))), 0), 1)
      p.data[n + i] = min(max(c.1 + Float(rng.symmetric(Double(noise))), 0), 1)
      p.data[2 * n + i] = min(max(c.2 + Float(rng.symmetric(Double(noise))), 0), 1)
    }
  }
  return p
}

/// Whether every label is one 4-connected region.
func everyRegionConnected(_ sp: Superpixels) -> Bool {
  var seen = [Bool](repeating: false, count: sp.labels.count)
  var components = 0
  for start in 0..<sp.labels.count where !seen[start] {
    components += 1
    var stack = [start]
    seen[start] = true
    while let p = stack.popLast() {
      let x = p % sp.width
      let y = p / sp.width
      for (dx, dy) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
        let nx = x + dx
        let ny = y + dy
        guard nx >= 0, ny >= 0, nx < sp.width, ny < sp.height else { continue }
        let q = ny * sp.width + nx
        if !seen[q] && sp.labels[q] == sp.labels[p] {
          seen[q] = true
          stack.append(q)
        }
      }
    }
  }
  return components == sp.count
}

@Suite struct SuperpixelTests {
  /// SLIC's colour space: published CIE Lab values of sRGB primaries (D65; Lindbloom's calculator).
  @Test func labMatchesPublishedValues() {
    let white = Reinhard.lab(1, 1, 1)
    #expect(abs(white.0 - 100) < 1e-3 && abs(white.1) < 1e-3 && abs(white.2) < 1e-3)
    let red = Reinhard.lab(1, 0, 0)
    #expect(abs(red.0 - 53.24) < 0.01 && abs(red.1 - 80.09) < 0.01 && abs(red.2 - 67.20) < 0.01)
    let blue = Reinhard.lab(0, 0, 1)
    #expect(abs(blue.0 - 32.30) < 0.01 && abs(blue.1 - 79.19) < 0.01 && abs(blue.2 + 107.86) < 0.01)
  }

  @Test func gridCellsAreEqualRectangles() {
    let g = Superpixels.grid(width: 64, height: 48, regions: 12)
    #expect(g.count == 12)
    #expect(g.areas == [Int](repeating: 256, count: 12))
    #expect(g.boundingBoxes[0] == PixelRect(x: 0, y: 0, width: 16, height: 16))
    #expect(g.boundingBoxes[11] == PixelRect(x: 48, y: 32, width: 16, height: 16))
    #expect(Superpixels.grid(width: 128, height: 128, regions: 50).count == 49)
    #expect(Superpixels.grid(width: 10, height: 10, regions: 1).count == 1)
    #expect(everyRegionConnected(g))
  }

  /// On flat colour blocks with noise, SLIC's regions follow the block edges: each region lies
  /// (almost) within one block, and there are about as many as asked for.
  @Test func slicFollowsColourEdges() {
    let size = 64
    let image = blockImage(size: size, blocks: 4, noise: 0.03, seed: 7)
    let sp = Superpixels.slic(image, regions: 16)
    #expect(sp.count >= 12 && sp.count <= 24, "count \(sp.count)")
    #expect(everyRegionConnected(sp))
    var perBlock = [[Int]](repeating: [Int](repeating: 0, count: 16), count: sp.count)
    for y in 0..<size {
      for x in 0..<size {
        perBlock[Int(sp.labels[y * size + x])][(y * 4 / size) * 4 + x * 4 / size] += 1
      }
    }
    let pure = perBlock.reduce(0) { $0 + ($1.max() ?? 0) }
    #expect(Double(pure) / Double(size * size) > 0.97, "purity \(Double(pure) / Double(size * size))")
  }

  @Test func slicIsDeterministicAndNearTheRequestedCount() {
    let image = blockImage(size: 128, blocks: 16, noise: 0.2, seed: 3)
    let a = Superpixels.slic(image)
    let b = Superpixels.slic(image)
    #expect(a == b)
    #expect(a.count >= 30 && a.count <= 75, "count \(a.count)")
    #expect(everyRegionConnected(a))
    #expect(a.labels.allSatisfy { $0 >= 0 && Int($0) < a.count })
    let more = Superpixels.slic(image, regions: 150)
    #expect(more.count > 2 * a.count)
    // A tiny image still gets a valid partition.
    let tiny = Superpixels.slic(blockImage(size: 3, blocks: 1, noise: 0.5, seed: 1), regions: 50)
    #expect(tiny.count >= 1 && everyRegionConnected(tiny))
  }

  @Test func fragmentsJoinANeighbour() {
    // Label 1 appears in two pieces; the single pixel of label 2 is under the minimum size.
    let labels: [Int32] = [
      0, 0, 1, 1,
      0, 2, 0, 0,
      1, 0, 0, 0,
    ]
    let out = Superpixels.enforceConnectivity(labels, width: 4, height: 3, minimumSize: 2)
    let sp = Superpixels(width: 4, height: 3, labels: out)
    #expect(everyRegionConnected(sp))
    #expect(out[5] == out[4])  // the lone pixel joined its left neighbour
    #expect(out[2] != out[8])  // the two pieces of label 1 are separate regions (each 2 px / 1 px)
  }

  @Test func outlineAndResize() {
    let g = Superpixels.grid(width: 8, height: 8, regions: 4)
    let o = g.outline(of: [0])
    var expected = Mask(width: 8, height: 8)
    for i in 0..<4 {
      expected[i, 0] = 255
      expected[0, i] = 255
      expected[i, 3] = 255
      expected[3, i] = 255
    }
    #expect(o == expected)
    let big = g.resized(width: 16, height: 16)
    #expect(big.count == 4 && big.areas == [64, 64, 64, 64])
    #expect(Superpixels(width: 2, height: 1, labels: [7, 3]).labels == [0, 1])
  }
}
