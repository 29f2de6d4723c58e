import CaseStore
import Foundation
import Testing

/// A department that outgrows the CPU trainer trains on GPU machines with the PyTorch
/// reference (issue 16): `tools/torch/train.py` under `torchrun` (DDP; here two processes,
/// gloo on CPU) on a few SampleData images writes a checkpoint that a workspace's model
/// registration accepts (`predict --model` loads it through every checkpoint check, registers
/// it and predicts every case with it).
///
/// Needs PyTorch: `make test` (and so CI) installs Debian's CPU build (`python3-torch` 1.13,
/// with numpy and Pillow; PyPI's is the CUDA build, several GB: docs/deployment.md) and sets
/// `BLASTVIEW_TORCH_PYTHON=/usr/bin/python3`, and `BLASTVIEW_REQUIRE_TORCH=1` under CI=true.
/// The test runs when `BLASTVIEW_TORCH_PYTHON` names a Python with torch, numpy and Pillow
/// (`safetensors` is used when installed, else `tools/torch/safetensors_compat.py`), and fails
/// rather than skips when `BLASTVIEW_REQUIRE_TORCH=1` and it is missing.
@Suite(.enabled(if: TorchPython.shouldRun), .serialized) struct TorchrunCheckpointTests {
  static let environment = ProcessInfo.processInfo.environment
  static var python: String? { TorchPython.path }

  static func shell(_ program: String, _ args: [String], environment extra: [String: String] = [:]) throws
    -> (
      status: Int32, out: String, err: String
    )
  {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: program)
    p.arguments = args
    p.environment = environment.merging(extra) { _, new in new }
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("tr-out-\(UUID().uuidString)")
    let err = FileManager.default.temporaryDirectory.appendingPathComponent("tr-err-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    defer {
      try? FileManager.default.removeItem(at: out)
      try? FileManager.default.removeItem(at: err)
    }
    p.standardOutput = try FileHandle(forWritingTo: out)
    p.standardError = try FileHandle(forWritingTo: err)
    p.standardInput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return (
      p.terminationStatus, (try? String(contentsOf: out, encoding: .utf8)) ?? "",
      (try? String(contentsOf: err, encoding: .utf8)) ?? ""
    )
  }

  @Test func twoProcessGlooRunWritesACheckpointTheWorkspaceRegisters() throws {
    let python = try #require(Self.python, "BLASTVIEW_REQUIRE_TORCH=1 but BLASTVIEW_TORCH_PYTHON is not set")
    let torchrun = (python as NSString).deletingLastPathComponent + "/torchrun"
    #expect(FileManager.default.isExecutableFile(atPath: torchrun), "no torchrun beside \(python)")
    let dir = ModelCommandTests.folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // Up to six images of each wbc5 class, in class folders.
    var count = 0
    for c in ["neutrophil", "lymphocyte", "monocyte", "eosinophil", "basophil"] {
      try FileManager.default.createDirectory(atPath: dir + "/data/\(c)", withIntermediateDirectories: true)
      let names = try FileManager.default.contentsOfDirectory(atPath: ModelCommandTests.images + "/\(c)")
        .sorted()
      for n in names.prefix(6) {
        try FileManager.default.copyItem(
          atPath: ModelCommandTests.images + "/\(c)/" + n, toPath: dir + "/data/\(c)/" + n)
        count += 1
      }
    }
    #expect(count >= 20, "too few SampleData images: \(count)")
    let checkpoint = dir + "/gpu-site.safetensors"
    let train = ModelCommandTests.repository.appendingPathComponent("tools/torch/train.py").path
    let run = try Self.shell(
      torchrun,
      [
        // `--redirects 1 --tee 1`: the default (0) crashes torch 1.13's torchrun on Python 3.11
        // (its Std.from_str finds no zero flag); 1 sends each rank's stdout to a log and the console.
        "--standalone", "--nproc_per_node=2", "--redirects", "1", "--tee", "1", train, "--data",
        dir + "/data", "--schema", "wbc5", "--out",
        checkpoint,
        "--size", "32", "--epochs", "1", "--batch", "8", "--tasks", "cls", "--blank-corner", "off",
        "--threads", "1",
      ], environment: ["OMP_NUM_THREADS": "1"])
    #expect(run.status == 0, "torchrun: \(run.err.suffix(3000))")
    #expect(run.out.contains("\"event\": \"epoch\""), "\(run.out)")
    // The checkpoint records that two processes trained it (safetensors: 8-byte length, JSON header).
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: checkpoint)))
    let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    #expect(length > 0 && length < bytes.count)
    let header = String(decoding: bytes[8..<(8 + length)], as: UTF8.self)
    #expect(header.contains("world_size\\\": 2"), "\(header.prefix(2000))")

    // The workspace takes it through the same loader and registration as any checkpoint.
    let ws = dir + "/ws"
    for args in [
      ["init", "--workspace", ws, "--schema", "wbc5", "--no-model"],
      ["import", "--workspace", ws, dir + "/data"],
    ] {
      let r = try ModelCommandTests.run(args)
      #expect(r.status == 0, "\(args[0]): \(r.err)")
    }
    let predict = try ModelCommandTests.run([
      "predict", "--workspace", ws, "--all-cases", "--model", checkpoint, "--threads", "2",
    ])
    #expect(predict.status == 0, "predict: \(predict.err)")
    let store = try Workspace.open(path: ws)
    defer { try? store.close() }
    let registered = try store.models()
    let sha = String(try Self.shell("/usr/bin/sha256sum", [checkpoint]).out.prefix(64))
    #expect(registered.map(\.sha256) == [sha], "\(registered)")
    let coverage = try store.predictionCoverage(model: try #require(registered.first).version)
    #expect(coverage.predicted == count && coverage.total == count, "\(coverage)")
  }
}

/// Where the PyTorch reference's Python is (`BLASTVIEW_TORCH_PYTHON`), and whether the torch
/// tests must run (`BLASTVIEW_REQUIRE_TORCH=1`: a missing Python then fails, never skips).
enum TorchPython {
  static var path: String? {
    ProcessInfo.processInfo.environment["BLASTVIEW_TORCH_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
  }
  static var shouldRun: Bool {
    path != nil || ProcessInfo.processInfo.environment["BLASTVIEW_REQUIRE_TORCH"] == "1"
  }
}
