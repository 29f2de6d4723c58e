import Foundation
import MTACNN
import NeuralEngine
import Testing

/// Issue 15, item 4 through the real binary: a checkpoint whose configuration asks for an image
/// size of 1,048,576 pixels (one forward pass would need terabytes) made predict, eval, train
/// --init and explain abort with "failed to allocate". Each now exits with status 1 and an error
/// that names the file and the field, and allocates nothing first.
@Suite(.serialized) struct HostileCheckpointCommandTests {
  /// A tiny classification-only wbc5 checkpoint whose `config` says `size: 1048576`.
  static func hostileCheckpoint(in dir: String) throws -> String {
    var c = ModelConfiguration.defaults(for: .wbc5, size: 32)
    c.tasks = ["cls"]
    c.ttcFrom = ["cls": []]
    c.channels = [4, 4, 4, 4]
    let model = try MTACNNModel(configuration: c, seed: 1)
    let good = dir + "/good.safetensors"
    try model.save(to: good)
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: good)))
    var n = 0
    for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
    let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
    #expect(header.contains(#"\"size\":32"#))
    var h = Array(header.replacingOccurrences(of: #"\"size\":32"#, with: #"\"size\":1048576"#).utf8)
    while (h.count + 8) % 8 != 0 { h.append(0x20) }
    var out: [UInt8] = []
    var len = UInt64(h.count)
    for _ in 0..<8 {
      out.append(UInt8(len & 0xFF))
      len >>= 8
    }
    let path = dir + "/hostile-size.safetensors"
    try Data(out + h + bytes[(8 + n)...]).write(to: URL(fileURLWithPath: path))
    return path
  }

  @Test func everyLoaderRefusesAnAbsurdSizeNamingFileAndField() throws {
    let dir = ModelCommandTests.folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let model = try Self.hostileCheckpoint(in: dir)
    let image = ModelCommandTests.images + "/basophil/291.png"
    let commands: [[String]] = [
      ["predict", "--model", model, image],
      ["eval", "--model", model, "--data", ModelCommandTests.images, "--threads", "1"],
      [
        "train", "--init", model, "--data", ModelCommandTests.images, "--epochs", "1", "--out",
        dir + "/o.safetensors",
      ],
      ["explain", image, "--model", model, "--method", "gradcam", "--out", dir + "/e.png"],
    ]
    for args in commands {
      let r = try ModelCommandTests.run(args)
      // Status 1 is an error the program reported; a crash ends with a signal instead.
      #expect(r.status == 1, "\(args[0]): status \(r.status)\n\(r.err)")
      #expect(r.err.contains("hostile-size.safetensors"), "\(args[0]): \(r.err)")
      #expect(r.err.contains("size 1048576"), "\(args[0]): \(r.err)")
      #expect(!r.err.contains("allocate"), "\(args[0]): \(r.err)")
    }
  }
}
