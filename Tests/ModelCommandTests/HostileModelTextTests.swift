import Foundation
import Testing

/// The model libraries quote file and argument text faithfully in their errors; the one
/// terminal `Sanitizer` neutralises it where the CLI prints it. Here the real binary prints an
/// ESC sequence and a right-to-left override from a checkpoint's tensor name and from a
/// `--colour-shift` value, and neither reaches the terminal raw.
@Suite struct HostileModelTextTests {
  typealias M = ModelCommandTests

  static func hasRawHostileScalars(_ s: String) -> Bool {
    s.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x202E || (0x80...0x9F).contains($0.value) }
  }

  @Test func hostileTextInModelErrorsIsNeutralisedWhenPrinted() throws {
    let dir = M.folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // A checkpoint whose only tensor is named with an ESC sequence and a bidi override.
    let header = Array(#"{"\u001b[2J\u202eevil":{"dtype":"X","shape":[],"data_offsets":[0,0]}}"#.utf8)
    var bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
    bytes += header
    let model = dir + "/hostile.safetensors"
    try Data(bytes).write(to: URL(fileURLWithPath: model))
    let image = M.repository.path + "/SampleData/wbc-seg/images/lymphocyte/"
    let first = try #require(
      try FileManager.default.contentsOfDirectory(atPath: image).sorted().first { $0.hasSuffix(".png") })
    let p = try M.run(["predict", "--model", model, image + first])
    #expect(p.status != 0)
    #expect(p.err.contains("hostile.safetensors") && p.err.contains("evil"), "\(p.err)")
    #expect(!Self.hasRawHostileScalars(p.out + p.err), "\(p.err.debugDescription)")

    let e = try M.run([
      "eval", "--model", M.repository.path + "/Models/wbc5.safetensors", "--data",
      M.repository.path + "/SampleData/wbc-seg/images", "--colour-shift", "x\u{1B}[2J\u{202E}",
    ])
    #expect(e.status != 0)
    #expect(e.err.contains("colour shift"), "\(e.err)")
    #expect(!Self.hasRawHostileScalars(e.out + e.err), "\(e.err.debugDescription)")
  }
}
