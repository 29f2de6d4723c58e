import Testing

@testable import Imaging

/// A gray image (R = G = B) from rows of values.
private func gray(_ rows: [[UInt8]]) -> RGBImage {
  RGBImage(width: rows[0].count, height: rows.count, pixels: rows.flatMap { $0.flatMap { [$0, $0, $0] } })
}

/// The red channel of each pixel, row-major.
private func reds(_ image: RGBImage) -> [UInt8] {
  stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] }
}

@Test func shrinkingAveragesCoveredArea() {
  // 2x2 -> 1x1: (10 + 20 + 30 + 41) / 4 = 25.25 -> 25.
  #expect(reds(gray([[10, 20], [30, 41]]).resized(width: 1, height: 1)) == [25])
  // 3 -> 2 (factor 1.5): output 0 covers source [0, 1.5): (0*1 + 90*0.5) / 1.5 = 30;
  // output 1 covers [1.5, 3): (90*0.5 + 180*1) / 1.5 = 150.
  #expect(reds(gray([[0, 90, 180]]).resized(width: 2, height: 1)) == [30, 150])
  // 4x2 -> 2x1: blocks (0,4,8,12)/4 = 6 and (100,104,108,113)/4 = 106.25 -> 106.
  #expect(reds(gray([[0, 4, 100, 104], [8, 12, 108, 113]]).resized(width: 2, height: 1)) == [6, 106])
  // Channels are independent: red and blue halves average to 127.5 -> 128 (half rounds up).
  let rb = RGBImage(width: 2, height: 1, pixels: [255, 0, 0, 0, 0, 255]).resized(width: 1, height: 1)
  #expect(rb.pixels == [128, 0, 128])
}

@Test func enlargingIsBilinearWithCentresAligned() {
  // 2 -> 4: output centres map to source -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1),
  // so [0, 100] becomes [0, 25, 75, 100].
  #expect(reds(gray([[0, 100]]).resized(width: 4, height: 1)) == [0, 25, 75, 100])
  // 2 -> 3: centres at -1/6 -> 0, 0.5, 7/6 -> 1: [0, 50, 100]... with 0 and 200:
  #expect(reds(gray([[0, 200]]).resized(width: 3, height: 1)) == [0, 100, 200])
  // 2x2 -> 4x4 centre pixels: (1,1) maps to (0.25, 0.25):
  // 0.75*0.75*0 + 0.25*0.75*40 + 0.75*0.25*80 + 0.25*0.25*120 = 7.5 + 15 + 7.5 = 30.
  let up = gray([[0, 40], [80, 120]]).resized(width: 4, height: 4)
  #expect(reds(up)[1 * 4 + 1] == 30)
  #expect(reds(up)[0] == 0 && reds(up)[15] == 120)
}

@Test func axesAreResampledSeparately() {
  // Width shrinks (area) while height grows (bilinear): [0, 100] -> 1 wide = 50, 2 tall.
  #expect(reds(gray([[0, 100]]).resized(width: 1, height: 2)) == [50, 50])
  let same = gray([[1, 2], [3, 4]])
  #expect(same.resized(width: 2, height: 2) == same)
}

@Test func shrinkingKeepsTheMeanOfARealImage() throws {
  let image = try decodeImage(
    at: Paths.sampleData.appendingPathComponent("wbc-seg/images/neutrophil/002.png").path)
  let small = image.resized(width: image.width / 3, height: image.height / 4)
  // Exact factors: each output is the mean of a 3x4 block, so the overall means agree
  // to within the rounding of each output value.
  func mean(_ i: RGBImage) -> Double { Double(i.pixels.reduce(0) { $0 + Int($1) }) / Double(i.pixels.count) }
  #expect(abs(mean(small) - mean(image)) < 0.5)
  var block = 0
  for y in 0..<4 { for x in 0..<3 { block += Int(image[x, y].g) } }
  #expect(Int(small[0, 0].g) == Int((Double(block) / 12).rounded()))
}

@Test func blankingFillsTheClippedRectangle() {
  let image = RGBImage(width: 4, height: 3, fill: (10, 20, 30))
  let blanked = image.blanking(PixelRect(x: 2, y: 1, width: 5, height: 5), with: (255, 255, 255))
  for y in 0..<3 {
    for x in 0..<4 {
      let expected: (UInt8, UInt8, UInt8) = (x >= 2 && y >= 1) ? (255, 255, 255) : (10, 20, 30)
      #expect(blanked[x, y] == expected, "(\(x), \(y))")
    }
  }
  #expect(image.blanking(PixelRect(x: -5, y: 0, width: 3, height: 3), with: (0, 0, 0)) == image)
  #expect(image.blanking(PixelRect(x: 1, y: 1, width: 0, height: 2), with: (0, 0, 0)) == image)
}

@Test func overlayBlendsOnlyMaskedPixels() {
  let image = RGBImage(width: 2, height: 1, pixels: [100, 50, 200, 100, 50, 200])
  let mask = Mask(width: 2, height: 1, values: [255, 0])
  let blended = image.blendingOverlay(mask, colour: (255, 0, 0), alpha: 0.25)
  // 0.75*100 + 0.25*255 = 138.75 -> 139; 0.75*50 = 37.5 -> 38; 0.75*200 = 150.
  #expect(blended.pixels == [139, 38, 150, 100, 50, 200])
  #expect(image.blendingOverlay(mask, colour: (1, 2, 3), alpha: 0) == image)
  #expect(image.blendingOverlay(mask, colour: (1, 2, 3), alpha: 1).pixels == [1, 2, 3, 100, 50, 200])
  #expect(image.blendingOverlay(mask, colour: (1, 2, 3), alpha: 7).pixels == [1, 2, 3, 100, 50, 200])
  // Any value above 0 counts (cytoplasm 128 too).
  let half = image.blendingOverlay(
    Mask(width: 2, height: 1, values: [0, 128]), colour: (0, 0, 0), alpha: 0.5)
  #expect(half.pixels == [100, 50, 200, 50, 25, 100])
}

@Test func overlayResizesAMaskOfAnotherSize() {
  let image = RGBImage(width: 4, height: 2, fill: (0, 0, 0))
  // A 2x1 mask marking its left half covers the image's left two columns.
  let blended = image.blendingOverlay(
    Mask(width: 2, height: 1, values: [1, 0]), colour: (200, 200, 200), alpha: 0.5)
  #expect(reds(blended) == [100, 100, 0, 0, 100, 100, 0, 0])
}

@Test func maskResizeIsNearestNeighbour() {
  let m = Mask(width: 2, height: 2, values: [1, 2, 3, 4])
  #expect(m.resized(width: 4, height: 4).values == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
  // 4x4 (v = 4y + x) -> 2x2 samples the centres (1,1), (3,1), (1,3), (3,3).
  let big = Mask(width: 4, height: 4, values: (0..<16).map(UInt8.init))
  #expect(big.resized(width: 2, height: 2).values == [5, 7, 13, 15])
  // 3 -> 2 picks source 0 and 2; labels keep their exact values.
  #expect(Mask(width: 3, height: 1, values: [0, 128, 255]).resized(width: 2, height: 1).values == [0, 255])
}

private let pattern = Mask(
  width: 5, height: 4,
  values: [
    255, 0, 0, 255, 255,
    0, 255, 0, 0, 255,
    0, 0, 0, 0, 0,
    255, 128, 0, 0, 255,
  ])

@Test func eightConnectedComponents() {
  let cc = pattern.connectedComponents()
  #expect(cc.count == 4)
  #expect(
    cc.components == [
      Component(label: 1, area: 2, bbox: PixelRect(x: 0, y: 0, width: 2, height: 2)),  // diagonal pair
      Component(label: 2, area: 3, bbox: PixelRect(x: 3, y: 0, width: 2, height: 2)),
      Component(label: 3, area: 2, bbox: PixelRect(x: 0, y: 3, width: 2, height: 1)),
      Component(label: 4, area: 1, bbox: PixelRect(x: 4, y: 3, width: 1, height: 1)),
    ])
  #expect(cc.labels == [1, 0, 0, 2, 2, 0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 3, 3, 0, 0, 4])
}

@Test func fourConnectedComponentsAndThreshold() {
  let cc = pattern.connectedComponents(connectivity: .four)
  #expect(cc.count == 5)
  #expect(cc.labels == [1, 0, 0, 2, 2, 0, 3, 0, 0, 2, 0, 0, 0, 0, 0, 4, 4, 0, 0, 5])
  #expect(cc.components.map(\.area) == [1, 3, 1, 2, 1])
  // Threshold 255: the 128 (cytoplasm) pixel is background.
  let nuclei = pattern.connectedComponents(connectivity: .four, threshold: 255)
  #expect(nuclei.components.map(\.area) == [1, 3, 1, 1, 1])
  #expect(nuclei.mask(of: 2).values.filter { $0 == 255 }.count == 3)
}

@Test func largeRegionNeedsNoRecursion() {
  // One 1000x1000 region (a million pixels) and an empty mask.
  let full = Mask(width: 1000, height: 1000, fill: 255).connectedComponents()
  #expect(full.count == 1 && full.components[0].area == 1_000_000)
  #expect(full.components[0].bbox == PixelRect(x: 0, y: 0, width: 1000, height: 1000))
  #expect(Mask(width: 3, height: 3).connectedComponents().count == 0)
}

@Test func realMaskHasOneCell() throws {
  // A wbc-seg expert mask: the cell (nucleus + cytoplasm, >= 128) is one region.
  let mask = try decodeMask(at: Paths.sampleData.appendingPathComponent("wbc-seg/masks/001.png").path)
  let cells = mask.connectedComponents(threshold: 128)
  let biggest = cells.components.max { $0.area < $1.area }!
  #expect(
    biggest.area == mask.values.filter { $0 >= 128 }.count
      - cells.components.filter { $0.label != biggest.label }.reduce(0) { $0 + $1.area })
  #expect(biggest.area > mask.values.count / 10)
}

@Test func pixelRectIntersection() {
  let a = PixelRect(x: 0, y: 0, width: 4, height: 4)
  #expect(
    a.intersection(PixelRect(x: 2, y: 3, width: 5, height: 5)) == PixelRect(x: 2, y: 3, width: 2, height: 1))
  #expect(a.intersection(PixelRect(x: 4, y: 0, width: 2, height: 2)).isEmpty)
  #expect(a.area == 16)
}
