import CaseStore
import Foundation
import Testing

/// Issue 15, item 10: file paths carry the class (`img/lymphocyte/001.png`), and `explain`
/// read cases as the system. While a rater is blinded for a case, no command shows its path
/// or the model's output for it.
@Suite(.serialized) struct BlindedPathTests {
  struct Fixture {
    let dir: String
    let ws: String
    let images: [String]
  }

  /// wbc5 images in class folders, a blinded --hide-model session for ana and ben, and a
  /// promoted model with predictions for every case.
  func fixture() throws -> Fixture {
    let dir = ModelCommandTests.folder()
    var images: [String] = []
    for c in ["lymphocyte", "neutrophil"] {
      try FileManager.default.createDirectory(atPath: dir + "/img/\(c)", withIntermediateDirectories: true)
      let names = try FileManager.default.contentsOfDirectory(atPath: ModelCommandTests.images + "/\(c)")
        .sorted()
      for n in names.prefix(2) {
        let src = ModelCommandTests.images + "/\(c)/" + n
        try FileManager.default.copyItem(atPath: src, toPath: dir + "/img/\(c)/" + n)
        images.append(dir + "/img/\(c)/" + n)
      }
    }
    let ws = dir + "/ws"
    let model = try ExplainCommandTests.model(in: dir)
    for args in [
      ["init", "--workspace", ws, "--schema", "wbc5"], ["import", "--workspace", ws, dir + "/img"],
      ["predict", "--workspace", ws, "--all-cases", "--model", model, "--promote", "--threads", "2"],
      [
        "session", "create", "--workspace", ws, "s", "--raters", "ana,ben", "--cases", "all", "--blind",
        "--hide-model", "--created-by", "lead",
      ],
    ] {
      let r = try ModelCommandTests.run(args)
      #expect(r.status == 0, "\(args[0]): \(r.err)")
    }
    return Fixture(dir: dir, ws: ws, images: images)
  }

  @Test func aBlindedRaterSeesNoPathAndNoModelOutputThroughAnyCommand() throws {
    let f = try fixture()
    defer { try? FileManager.default.removeItem(atPath: f.dir) }
    #expect(f.images.count >= 2)
    let classes = ["lymphocyte", "neutrophil"]
    // The class folder in a path (class names themselves appear legitimately, e.g. in the schema).
    func leaks(_ text: String) -> Bool { classes.contains { text.contains($0 + "/") } }

    let history = try ModelCommandTests.run(["history", "--workspace", f.ws, "--rater", "ana", "1"])
    #expect(history.status == 0, "\(history.err)")
    #expect(!leaks(history.out) && history.out.contains("case-1"), "\(history.out)")
    let historyJSON = try ModelCommandTests.run([
      "history", "--workspace", f.ws, "--rater", "ana", "--json", "1",
    ])
    #expect(!leaks(historyJSON.out), "\(historyJSON.out)")

    for format in ["json", "csv", "coco"] {
      // ana's own mask on a case she has not labelled: exported, but without its path.
      _ = try ModelCommandTests.run([
        "annotate", "--workspace", f.ws, "--rater", "ana", "--session", "s", "1", "--note", "looking",
        "--mask", ModelCommandTests.masks + "/001.png",
      ])
      let out = f.dir + "/export-\(format)"
      let r = try ModelCommandTests.run([
        "export", "--workspace", f.ws, "--rater", "ana", "--format", format, "--out", out,
      ])
      #expect(r.status == 0, "\(format): \(r.err)")
      for file in (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? [] {
        let text = (try? String(contentsOfFile: out + "/" + file, encoding: .utf8)) ?? ""
        #expect(!leaks(text), "export \(format) \(file) shows a class folder")
      }
    }

    // explain: by case id and by the image file itself, refused for ana; the system (no
    // session) and the lead may explain.
    let byID = try ModelCommandTests.run([
      "explain", "--workspace", f.ws, "--rater", "ana", "1", "--method", "gradcam", "--json",
    ])
    #expect(byID.status != 0 && byID.err.contains("hidden from ana") && !byID.out.contains("probabilities"))
    let byFile = try ModelCommandTests.run([
      "explain", "--workspace", f.ws, "--rater", "ana", f.images[0], "--method", "gradcam", "--json",
    ])
    #expect(byFile.status != 0 && byFile.err.contains("hidden from ana"))
    let lead = try ModelCommandTests.run([
      "explain", "--workspace", f.ws, "--rater", "lead", "1", "--method", "gradcam", "--json",
    ])
    #expect(lead.status == 0 && lead.out.contains("probabilities"), "\(lead.err)")
    let model = f.dir + "/tiny.safetensors"
    let predict = try ModelCommandTests.run([
      "predict", "--workspace", f.ws, "--rater", "ana", "--model", model, f.images[0], "--json",
    ])
    #expect(predict.err.contains("hidden from ana") && !predict.out.contains("probabilities"))

    // Once ana has labelled case 1 in the session, its path is hers to see.
    let label = try ModelCommandTests.run([
      "annotate", "--workspace", f.ws, "--rater", "ana", "--session", "s", "1", "--label", "lymphocyte",
    ])
    #expect(label.status == 0, "\(label.err)")
    let after = try ModelCommandTests.run(["history", "--workspace", f.ws, "--rater", "ana", "1"])
    #expect(leaks(after.out))
  }
}
