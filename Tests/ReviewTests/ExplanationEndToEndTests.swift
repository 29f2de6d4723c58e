import CaseStore
import FileSafety
import Foundation
import TestSupport
import Testing

/// `e` and `d` in the real case view, in tmux: the workspace's model (the Grad-CAM fixture of
/// MTACNNTests, all4 at S = 64, random weights) predicts the BCCD smears through the CLI; in the
/// case view `d` shows the nucleus count the store holds and `e` shows Grad-CAM, then LIME from
/// the background, each with its legend.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux")))
struct ExplanationEndToEndTests {
  @Test func explanationAndDetectionOverlaysInTheCaseView() throws {
    let dir = EndToEnd.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let ws = dir.appendingPathComponent("ws").path
    let bin = EndToEnd.binary!
    let root = EndToEnd.repositoryRoot
    #expect(EndToEnd.run([bin, "init", "--workspace", ws, "--no-model"]).status == 0)
    #expect(
      EndToEnd.run([
        bin, "import", "--workspace", ws, root.appendingPathComponent("SampleData/bccd/JPEGImages").path,
      ])
      .status == 0)
    let model = root.appendingPathComponent("Tests/MTACNNTests/Fixtures/gradcam_all4.safetensors").path
    let predict = EndToEnd.run([bin, "predict", "--all-cases", "--workspace", ws, "--model", model])
    #expect(predict.status == 0, "\(predict.output)")
    let store = try Workspace.open(path: ws)
    let nuclei = try #require(try store.prediction(case: 1, viewer: .system)).detections.count

    let command =
      "\(EndToEnd.shellQuote(bin)) review --workspace \(EndToEnd.shellQuote(ws)) --rater alice --graphics blocks"
    let tmux = try #require(
      TmuxSession(
        columns: 120, rows: 40, command: "sh -c \(EndToEnd.shellQuote(command + "; echo EXIT=$?; sleep 60"))")
    )
    #expect(tmux.waitFor("20 matching"))
    tmux.send("Enter")
    #expect(tmux.waitFor("Case #1"))
    #expect(tmux.waitFor("Explain: e why · d nucleus boxes"))
    tmux.send("d")
    let count = "white boxes: \(nuclei) \(nuclei == 1 ? "nucleus" : "nuclei") (NMS)"
    #expect(tmux.waitFor(count), "\(tmux.capture())")
    #expect(tmux.capture().contains("Nuclei detected: \(nuclei)"))
    tmux.send("e")
    // Grad-CAM at once, then LIME (500 perturbations of a small network) replaces it.
    #expect(tmux.waitFor("orange: speaks for"), "\(tmux.capture())")
    #expect(tmux.waitFor("blue: speaks against it", seconds: 60), "\(tmux.capture())")
    let screen = tmux.capture()
    #expect(
      screen.contains("LIME, ") && screen.contains("yellow: top") && screen.contains("Scale bar: "))
    #expect(screen.contains(count))
    tmux.send("q")
    #expect(tmux.waitFor("EXIT=0"))
    // Explanations are cached in this user's own folder (another user must not plant them).
    let cache = ws + "/cache/" + SafeFile.userFolderName + "/explanations"
    let files = (try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []
    #expect(files.contains("case1-v1-lime.json") && files.contains("case1-v1-gradcam.json"), "\(files)")
  }
}
