import CaseStore
import Foundation
import Imaging

/// A synthetic all4 workspace for retraining tests (the embedded ones in RetrainingTests, the
/// shared ones in SharedWorkspaceTests): 80 smear-like 32 × 32 images, one dark disc
/// (the nucleus, also the reference mask) per image whose colour and size encode the class, so a
/// small model learns it in a few epochs. The base model (both tasks, classification reading the
/// segmentation column) is trained once and shared; each test gets its own workspace with it
/// promoted as v1 and its predictions stored.
public enum Synthetic {
  public static let classes = ["Benign", "Early-B", "Pre-B", "Pro-B"]
  public static let size = 32

  public struct Fixture: Sendable {
    public var images: String
    public var masks: String
    public var baseModel: String
  }

  public static let fixture: Result<Fixture, any Error> = Result { try build() }

  public struct CommandFailure: Error, CustomStringConvertible {
    public var description: String
  }

  public static var binary: String {
    if let path = ProcessInfo.processInfo.environment["BLASTVIEW_BIN"] { return path }
    let here = Bundle.main.bundleURL
    for dir in [here, here.deletingLastPathComponent()] {
      let path = dir.appendingPathComponent("blastview").path
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return here.appendingPathComponent("blastview").path
  }

  public static func folder(_ name: String) -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
  }

  /// Runs the binary to completion.
  @discardableResult
  public static func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = arguments
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("rt-out-\(UUID().uuidString)")
    let err = FileManager.default.temporaryDirectory.appendingPathComponent("rt-err-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
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
      p.terminationStatus, String(decoding: try Data(contentsOf: out), as: UTF8.self),
      String(decoding: try Data(contentsOf: err), as: UTF8.self)
    )
  }

  /// Starts the binary in the background, output to `log`.
  public static func start(_ arguments: [String], log: String) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = arguments
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    p.standardOutput = handle
    p.standardError = handle
    p.standardInput = FileHandle.nullDevice
    try p.run()
    return p
  }

  public static func image(class k: Int, index i: Int) -> (RGBImage, Mask) {
    var rng = UInt64(i * 7919 + k * 104_729 + 1)
    func next() -> UInt64 {
      rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return rng >> 33
    }
    let s = size
    let colours: [(UInt8, UInt8, UInt8)] = [(200, 60, 60), (60, 160, 60), (60, 60, 200), (40, 30, 40)]
    var im = RGBImage(width: s, height: s, fill: (225, 205, 215))
    var m = Mask(width: s, height: s)
    let cx = Double(s) / 2 + Double(Int(next() % 7) - 3)
    let cy = Double(s) / 2 + Double(Int(next() % 7) - 3)
    let r = 5.0 + 2.0 * Double(k)
    for y in 0..<s {
      for x in 0..<s {
        let noise = UInt8(next() % 20)
        if (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy) < r * r {
          let c = colours[k]
          im[x, y] = (c.0 &+ noise, c.1 &+ noise, c.2 &+ noise)
          m[x, y] = 255
        } else {
          im[x, y] = (215 &+ noise, 195 &+ noise, 205 &+ noise)
        }
      }
    }
    return (im, m)
  }

  private static func build() throws -> Fixture {
    let dir = folder("retrain-fixture")
    let images = dir + "/images"
    let masks = dir + "/masks"
    try FileManager.default.createDirectory(atPath: masks, withIntermediateDirectories: true)
    for (k, name) in classes.enumerated() {
      try FileManager.default.createDirectory(atPath: images + "/" + name, withIntermediateDirectories: true)
      for i in 0..<20 {
        let (im, m) = image(class: k, index: i)
        try writePNG(im, to: images + "/\(name)/c\(k)_\(i).png")
        try writePNG(m, to: masks + "/c\(k)_\(i).png")
      }
    }
    let ws = try workspace(images: images, masks: masks, promote: nil)
    let base = dir + "/base.safetensors"
    let t = try run([
      "train", "--from-workspace", "--workspace", ws, "--tasks", "cls,seg", "--ttc", "cls-from-seg", "--size",
      "32", "--epochs", "12", "--patience", "12", "--batch", "8", "--lr", "0.003", "--blank-corner", "off",
      "--augment", "geometric", "--threads", "2", "--seed", "1", "--out", base,
    ])
    guard t.status == 0 else { throw CommandFailure(description: "base training failed: \(t.err)") }
    return Fixture(images: images, masks: masks, baseModel: base)
  }

  /// A new workspace with the synthetic cases (reference labels and masks); with `promote`, that
  /// model registered, promoted (v1) and its predictions stored.
  public static func workspace(images: String, masks: String, promote model: String?) throws -> String {
    let ws = folder("retrain-ws") + "/ws"
    let i = try run(["init", "--workspace", ws, "--schema", "all4", "--no-model"])
    guard i.status == 0 else { throw CommandFailure(description: "init: \(i.err)") }
    let imp = try run(["import", "--workspace", ws, images, "--labels-from-folders", "--masks", masks])
    guard imp.status == 0 else { throw CommandFailure(description: "import: \(imp.err)") }
    if let model {
      let p = try run(["predict", "--all-cases", "--workspace", ws, "--model", model, "--threads", "2"])
      guard p.status == 0 else { throw CommandFailure(description: "predict: \(p.err)") }
    }
    return ws
  }

  /// A workspace with the base model promoted as v1.
  public static func promotedWorkspace() throws -> String {
    let f = try fixture.get()
    return try workspace(images: f.images, masks: f.masks, promote: f.baseModel)
  }

  /// The class index a case's file name encodes (`c<k>_<i>.png`).
  public static func classIndex(_ record: CaseRecord) -> Int {
    let name = (record.path as NSString).lastPathComponent
    return Int(String(name.dropFirst().prefix { $0 != "_" }))!
  }
}
