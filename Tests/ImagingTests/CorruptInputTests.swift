import Foundation
import Testing

@testable import Imaging

/// Real files of each format for damage tests: a wbc-seg PNG crop, a BCCD field (JPEG),
/// the wbc-seg crop as the 24-bit BMP the data set ships, and the progressive, grayscale
/// and CMYK JPEG variants.
let damageSources: [String] = [
  Paths.sampleData.appendingPathComponent("wbc-seg/images/lymphocyte/001.png").path,
  Paths.sampleData.appendingPathComponent("wbc-seg/masks/001.png").path,
  Paths.sampleData.appendingPathComponent("bccd/JPEGImages/BloodImage_00000.jpg").path,
  Paths.fixture("variants/progressive.jpg"),
  Paths.fixture("variants/gray.jpg"),
  Paths.fixture("variants/cmyk.jpg"),
  Paths.fixture("variants/wbc-001.bmp"),
  Paths.fixture("variants/palette8.bmp"),
  Paths.fixture("variants/rgb8-adam7.png"),
]

/// Offsets to cut at: every one of the first 96 bytes (all headers), then evenly spaced
/// through the rest, and the last 16 (trailers: IEND, EOI, the last BMP row).
func truncationOffsets(count n: Int) -> [Int] {
  var offsets = Set(0..<min(96, n))
  let step = max(1, n / 150)
  offsets.formUnion(stride(from: 96, to: n, by: step))
  offsets.formUnion(max(0, n - 16)..<n)
  return offsets.sorted()
}

@Test(arguments: damageSources)
func everyTruncationIsAnError(_ path: String) throws {
  let whole = try Paths.bytes(path)
  _ = try decodeImage(data: whole, name: path)  // the intact file decodes
  for cut in truncationOffsets(count: whole.count) {
    let name = "\(path) cut at \(cut)"
    do {
      let image = try decodeImage(data: Array(whole[..<cut]), name: name)
      Issue.record("\(name) decoded to \(image.width)x\(image.height) instead of failing")
    } catch {
      #expect(error.path == name)
      switch error.reason {
      case .truncated, .corrupt, .notAnImage: break
      default: Issue.record("\(name): unexpected \(error)")
      }
    }
  }
}

@Test func truncatedImageDataSaysTruncated() throws {
  // Cut in the middle of the pixel data: each format names it as truncation.
  for path in [damageSources[0], damageSources[2], damageSources[6]] {
    let whole = try Paths.bytes(path)
    #expect(throws: ImageError(path: "x", reason: .truncated)) {
      try decodeImage(data: Array(whole[..<(whole.count * 2 / 3)]), name: "x")
    }
  }
}

/// Flips 1-3 random bytes (seeded), decodes, and sorts the outcome. Nothing may crash.
/// PNG has a CRC on every chunk and an Adler-32 on the pixels, and we treat every CRC
/// mismatch as fatal, so every damaged PNG must fail. JPEG and BMP have no checksums: a
/// flipped byte inside the pixel data can give a valid file with a different pixel, so
/// for those the decode must either fail with a typed error or return an image of the
/// size the header gives.
@Test(arguments: damageSources)
func seededByteFlipsNeverCrash(_ path: String) throws {
  let whole = try Paths.bytes(path)
  let original = try decodeImage(data: whole, name: path)
  var rng = SplitMix64(seed: 0x5EED_0000 + UInt64(whole.count))
  var failures = 0
  var decoded = 0
  let trials = 300
  for trial in 0..<trials {
    var damaged = whole
    for _ in 0..<Int.random(in: 1...3, using: &rng) {
      let at = Int.random(in: 0..<damaged.count, using: &rng)
      damaged[at] ^= UInt8.random(in: 1...255, using: &rng)
    }
    do {
      let image = try decodeImage(data: damaged, name: "trial \(trial)")
      decoded += 1
      #expect(image.pixels.count == image.width * image.height * 3)
      if path.hasSuffix(".png") {
        Issue.record("\(path) trial \(trial): a damaged PNG decoded")
      }
      // A header flip can change the size; otherwise the size stands.
      #expect(image.width > 0 && image.height > 0)
      _ = original
    } catch {
      failures += 1
      #expect(error.path == "trial \(trial)")
    }
  }
  #expect(failures + decoded == trials)
  if !path.hasSuffix(".png") {
    // Most damage is still caught (markers, headers, entropy-coded data running out).
    #expect(failures > 0, "\(path): \(failures) of \(trials) flips detected")
  }
}

@Test func hugeHeadersAreRefusedBeforeAllocating() throws {
  let before = peakResidentKilobytes()
  let cases: [(String, Int, Int)] = [
    ("hostile/huge-100000x100000.png", 100_000, 100_000),
    ("hostile/huge-100000x100000.bmp", 100_000, 100_000),
    ("hostile/huge-60000x60000.jpg", 60_000, 60_000),
  ]
  for (file, w, h) in cases {
    let path = Paths.fixture(file)
    #expect(throws: ImageError(path: path, reason: .tooLarge(width: w, height: h, limit: 64_000_000))) {
      try decodeImage(at: path)
    }
    #expect(throws: ImageError(path: path, reason: .tooLarge(width: w, height: h, limit: 64_000_000))) {
      try decodeMask(at: path)
    }
    // The header itself is readable: probing reports the claimed size.
    #expect(try probeImage(at: path).width == w)
  }
  // 100,000 x 100,000 RGB would be 30 GB; allocating and filling even part of it would
  // show here. Other tests run in parallel, so allow generous headroom.
  #expect(peakResidentKilobytes() - before < 512 * 1024)
}

@Test func pixelLimitIsConfigurable() throws {
  let path = Paths.fixture("variants/wbc-001.bmp")
  let small = DecodeLimits(maxPixels: 120 * 120 - 1)
  for file in [path, Paths.fixture("variants/baseline.jpg"), damageSources[0]] {
    #expect(throws: ImageError(path: file, reason: .tooLarge(width: 120, height: 120, limit: 14399))) {
      try decodeImage(at: file, limits: small)
    }
    #expect(try decodeImage(at: file, limits: DecodeLimits(maxPixels: 120 * 120)).width == 120)
  }
}

@Test func fileProblemsHaveTypedReasons() throws {
  let folder = try Paths.temporaryFolder()
  defer { try? FileManager.default.removeItem(at: folder) }
  func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

  #expect(throws: ImageError(path: path("missing.png"), reason: .notFound)) {
    try decodeImage(at: path("missing.png"))
  }
  #expect(throws: ImageError(path: folder.path, reason: .isDirectory)) { try decodeImage(at: folder.path) }
  #expect(throws: ImageError(path: folder.path, reason: .isDirectory)) { try probeImage(at: folder.path) }

  try Data("hello, not an image\n".utf8).write(to: URL(fileURLWithPath: path("notes.png")))
  #expect(throws: ImageError(path: path("notes.png"), reason: .notAnImage)) {
    try decodeImage(at: path("notes.png"))
  }

  try Data().write(to: URL(fileURLWithPath: path("empty.jpg")))
  #expect(throws: ImageError(path: path("empty.jpg"), reason: .corrupt("the file is empty"))) {
    try decodeImage(at: path("empty.jpg"))
  }

  try Data("GIF89a\u{1}\0\u{1}\0".utf8).write(to: URL(fileURLWithPath: path("cell.gif")))
  #expect(throws: ImageError(path: path("cell.gif"), reason: .unsupported("GIF images"))) {
    try decodeImage(at: path("cell.gif"))
  }

  // A FIFO: reading it could block forever, so it is refused as not a regular file.
  #expect(mkfifo(path("fifo"), 0o600) == 0)
  #expect(throws: ImageError(path: path("fifo"), reason: .unreadable("not a regular file"))) {
    try decodeImage(at: path("fifo"))
  }

  // A file above the read limit.
  #expect(throws: ImageError.self) {
    try decodeImage(at: damageSources[0], limits: DecodeLimits(maxFileBytes: 100))
  }
}

@Test func unsupportedVariantsSayWhat() throws {
  // An RLE8 BMP: valid header, compression 1.
  var rle = try Paths.bytes(Paths.fixture("variants/palette8.bmp"))
  rle[30] = 1
  #expect(throws: ImageError(path: "rle.bmp", reason: .unsupported("run-length compressed BMP"))) {
    try decodeImage(data: rle, name: "rle.bmp")
  }
  // A 12-bit JPEG: SOF1 with precision 12 (libjpeg-turbo 2.1 decodes 8-bit only).
  var jpeg = try Paths.bytes(Paths.fixture("variants/baseline.jpg"))
  var i = 2
  while i + 4 < jpeg.count {
    let marker = jpeg[i + 1]
    let length = Int(jpeg[i + 2]) << 8 | Int(jpeg[i + 3])
    if marker == 0xC0 {
      jpeg[i + 1] = 0xC1
      jpeg[i + 4] = 12
      break
    }
    i += 2 + length
  }
  do {
    _ = try decodeImage(data: jpeg, name: "deep.jpg")
    Issue.record("a 12-bit JPEG decoded")
  } catch {
    guard case .unsupported = error.reason else {
      Issue.record("12-bit JPEG: \(error)")
      return
    }
  }
}

/// The message names the file exactly as it is named: Imaging knows nothing of terminals, and
/// the printers filter it (`HostileTextTests` in DoctorCommandTests runs them on such names).
@Test func errorMessagesNameFileAndReason() {
  let e = ImageError(
    path: "cases/\u{1B}[31mred.png", reason: .tooLarge(width: 100_000, height: 100_000, limit: 64_000_000))
  #expect(
    e.description
      == "cases/\u{1B}[31mred.png: too large: 100000x100000 is 10000000000 pixels, above the limit of 64000000"
  )
  #expect(
    ImageError(path: "a.bmp", reason: .truncated).description
      == "a.bmp: truncated: the file ends before the image does")
}

/// Peak resident set size of this process, in kilobytes (Linux ru_maxrss).
func peakResidentKilobytes() -> Int {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return Int(usage.ru_maxrss)
}
