import CaseStore
import Foundation
import Imaging
import Testing

@testable import MTACNN
@testable import Review
@testable import Terminal

/// The case view's explanation overlay (`e`), nucleus boxes (`d`) and colour warning (issues 9
/// and 10): `update` and `view` driven without a terminal, and the background worker with a real
/// (small) network: the Grad-CAM fixture model of MTACNNTests (all4, S = 64, random weights).
/// Whether the frame shows `text` (a function, so a failure prints the text, not the frame).
private func has(_ f: Frame, _ text: String) -> Bool { f.contains(text) }
private func has(_ line: String, _ text: String) -> Bool { line.contains(text) }

@Suite(.serialized) struct ExplanationOverlayTests {
  static let modelFile = repository.appendingPathComponent(
    "Tests/MTACNNTests/Fixtures/gradcam_all4.safetensors"
  ).path

  /// The BCCD workspace with the fixture model registered and promoted, and predictions for cases
  /// 1-3: case 1 with three nucleus boxes and its colour flagged unusual, case 2 with a colour
  /// distance under the threshold, case 3 with no colour check (a model without a reference).
  static func workspace() throws -> (ReviewApp, CaseStore, URL) {
    let (_, store, dir) = try makeApp()
    let v = try store.registerModel(
      file: modelFile, parent: nil, tasks: ["classification", "segmentation"],
      trainedTasks: ["classification", "segmentation"], frozenTasks: [])
    let boxes = [
      StoredDetection(x: 100, y: 100, width: 40, height: 30, score: 0.9),
      StoredDetection(x: 300, y: 200, width: 50, height: 50, score: 0.8),
      StoredDetection(x: 500, y: 400, width: 30, height: 30, score: 0.7),
    ]
    try store.savePredictions(
      [
        NewPrediction(
          caseID: 1, probabilities: [0.1, 0.2, 0.3, 0.4], detections: boxes, colourDistance: 41.5,
          colourUnusual: true),
        NewPrediction(
          caseID: 2, probabilities: [0.7, 0.1, 0.1, 0.1], colourDistance: 3.2, colourUnusual: false),
        NewPrediction(caseID: 3, probabilities: [0.25, 0.25, 0.3, 0.2]),
      ], model: v.version)
    try store.promote(version: v.version)
    let app = try ReviewApp(
      store: store, rater: "alice", session: nil, rows: 40, columns: 120, graphics: true)
    app.begin()
    return (app, store, dir)
  }

  /// A real explanation of case 1's image by the fixture model.
  static func explanation(_ method: ExplanationMethod, store: CaseStore) throws -> ImageExplanation {
    let (net, _) = try ModelCheckpoint.load(path: modelFile)
    let image = try decodeImage(at: try store.caseRecord(id: 1, viewer: .system).imagePath)
    return try Explainer(model: net).explain(
      image, ExplanationRequest(method: method, lime: LIMEOptions(samples: 60)))
  }

  @Test func explanationToggleIsPureGradCAMFirstThenLIME() throws {
    let (app, store, dir) = try Self.workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.enter))
    #expect(has(app.frame, "Case #1"))
    #expect(has(app.frame, "Explain: e why · d nucleus boxes"))
    let opened = app.state

    // `e`: the state says what is on and pending; the effects ask for Grad-CAM, then LIME.
    let (on, effects) = update(opened, key("e"))
    let gradcam = ExplanationKey(caseID: 1, modelVersion: 1, method: .gradcam)
    let lime = ExplanationKey(caseID: 1, modelVersion: 1, method: .lime)
    #expect(on.explanations.showExplanation && on.explanations.pending == lime)
    let record = try store.caseRecord(id: 1, viewer: .system)
    let path = record.imagePath
    // The recorded SHA-256 goes with the job: the worker refuses an image replaced since import.
    #expect(
      effects == [
        .explain(.cancel(keep: 1)),
        .explain(
          .explain([
            ExplanationJob(key: gradcam, imagePath: path, imageSHA256: record.sha256),
            ExplanationJob(key: lime, imagePath: path, imageSHA256: record.sha256),
          ])),
      ])
    var f = View.render(on)
    #expect(has(f, "Grad-CAM: computing…") && has(f, "LIME: queued…"))

    // Grad-CAM arrives: drawn at once, with its legend; LIME still running.
    let g = CaseExplanation(key: gradcam, explanation: try Self.explanation(.gradcam, store: store))
    var (s, e) = update(on, .explain(.ready(g, cached: false)))
    #expect(e.isEmpty && s.explanations.current == g)
    (s, _) = update(s, .explain(.progress(lime, done: 64, total: 500)))
    f = View.render(s)
    #expect(has(f, "Grad-CAM for") && has(f, "orange: speaks for"))
    #expect(!has(f, "blue: speaks against"))
    #expect(has(f, "LIME: 64/500 perturbed images…"))
    #expect(f.text(row: 39).contains("LIME for case #1: 64/500"))
    // Progress does not hide a confirmation: a "Saved" line stays until the next key.
    var saved = s
    saved.status = StatusMessage("Saved: case #1 labelled R Pro-B", .ok)
    (saved, _) = update(saved, .explain(.progress(lime, done: 96, total: 500)))
    #expect(saved.status?.text == "Saved: case #1 labelled R Pro-B" && saved.explanations.done == 96)
    #expect(f.images.first { $0.key.hasPrefix("case:1") }?.key.contains("|explain:case1-v1-gradcam") == true)
    #expect(has(f, "Scale bar: ") && has(f, "of the evidence lies in the"))

    // LIME replaces it; a late Grad-CAM does not take its place back.
    let l = CaseExplanation(key: lime, explanation: try Self.explanation(.lime, store: store))
    (s, _) = update(s, .explain(.ready(l, cached: false)))
    (s, _) = update(s, .explain(.ready(g, cached: true)))
    #expect(s.explanations.current == l && s.explanations.pending == nil)
    f = View.render(s)
    #expect(has(f, "LIME, \(l.explanation.superpixels!.count) regions for"))
    #expect(has(f, "blue: speaks against it") && has(f, "yellow: top"))
    #expect(!has(f, "LIME: 64/500"))
    let placement = try #require(f.images.first { $0.key.hasPrefix("case:1") })
    #expect(has(placement.key, "|explain:case1-v1-lime"))
    // The overlay changes the image; without it, the plain case image.
    let drawn = try #require(placement.source.render(160, 120))
    let plain = try #require(
      View.caseImagePlacement(s, s.detail!, rect: placement.rect, CaseImages()).source.render(160, 120))
    #expect(drawn.pixels != plain.pixels)

    // `e` again: off, the background work stops, the image is plain again.
    let (off, offEffects) = update(s, key("e"))
    #expect(!off.explanations.showExplanation && offEffects == [.explain(.cancel(keep: nil))])
    #expect(View.render(off).images.first { $0.key.hasPrefix("case:1") }?.key == "case:1")
    // Back on: the LIME explanation of this case is still there, nothing to compute.
    let (again, againEffects) = update(off, key("e"))
    #expect(again.explanations.current == l && againEffects.isEmpty)
    // Another case drops this one's explanation and asks for its own.
    let (next, nextEffects) = update(
      again, .caseLoaded(try store.caseDetail(id: 2, viewer: .rater("alice", session: nil)), history: []))
    #expect(next.explanations.current == nil)
    #expect(next.explanations.pending == ExplanationKey(caseID: 2, modelVersion: 1, method: .lime))
    #expect(nextEffects.contains(.explain(.cancel(keep: 2))))
  }

  @Test func detectionBoxesAndCount() throws {
    let (app, _, dir) = try Self.workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.enter))
    app.dispatch(key("d"))
    var f = app.frame
    #expect(has(f, "white boxes: 3 nuclei (NMS)"))
    #expect(f.text(row: 39).contains("Nucleus boxes on: 3 nuclei detected"))
    let placement = try #require(f.images.first { $0.key.hasPrefix("case:1") })
    #expect(placement.key.hasSuffix("|boxes:v1"))
    // At the source size, the first box's edge is white, its inside untouched, and a black edge
    // runs outside it.
    let image = try #require(placement.source.render(640, 480))
    let plain = try #require(
      app.images.image(
        app.state.pictures.caseImage(at: app.state.detail!.record.imagePath),
        path: app.state.detail!.record.imagePath, width: 640, height: 480
      ).render(640, 480))
    #expect(image[100, 110] == (255, 255, 255) && image[139, 110] == (255, 255, 255))
    #expect(image[99, 110] == (0, 0, 0))
    #expect(image[120, 115] == plain[120, 115])
    app.dispatch(key("d"))
    f = app.frame
    #expect(!has(f, "white boxes"))
    // Case 3's prediction has no boxes: the count says 0.
    app.dispatch(key("n"))
    app.dispatch(key("n"))
    #expect(has(app.frame, "Case #3"))
    app.dispatch(key("d"))
    #expect(has(app.frame, "white boxes: 0 nuclei (NMS)"))
    // A case without a prediction: refused with a reason.
    app.dispatch(key("n"))
    app.dispatch(key("d"))
    #expect(app.frame.text(row: 39).contains("No prediction for this case yet"))
    app.dispatch(key("e"))
    #expect(has(app.frame, "Grad-CAM: computing…"))
  }

  @Test func theCaseViewHelpListsEveryKeyAt80By24() throws {
    let (app, _, dir) = try Self.workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(.input(.resize(rows: 24, columns: 80)))
    app.dispatch(key(.enter))
    let bindings = KeyMap.bindings(for: app.state)
    app.dispatch(key("?"))
    #expect(has(app.frame, "Keys: case view"))
    // Every key on one of the help's pages (space turns them), in full.
    var text = ""
    var pages = 0
    while app.state.showHelp && pages < 5 {
      pages += 1
      text += app.frame.text + "\n"
      #expect(app.frame.cut.isEmpty, "\(app.frame.cut)")
      app.dispatch(key(" "))
    }
    for b in bindings { #expect(has(text, b.help), "\(b.help)") }
  }

  @Test func theColourWarningStandsBesideAFlaggedPrediction() throws {
    let (app, _, dir) = try Self.workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    let warning = "⚠ colour unlike the training data;"
    app.dispatch(key(.enter))
    var f = app.frame
    #expect(has(f, "Model v1: Pro-B 0.40"))
    #expect(has(f, warning))
    // Above the probabilities, below the prediction; the prediction itself is unchanged.
    let modelRow = try #require((0..<40).first { f.text(row: $0).contains("Model v1: Pro-B 0.40") })
    #expect(has(f.text(row: modelRow + 1), warning))
    #expect(has(f.text(row: modelRow + 2), "  prediction less reliable"))
    app.dispatch(key("n"))
    f = app.frame
    #expect(has(f, "Case #2") && has(f, "Model v1: Benign 0.70") && !has(f, warning))
    app.dispatch(key("n"))
    #expect(has(app.frame, "Case #3") && !has(app.frame, warning))
  }

  @Test func theModelHiddenInASessionIsNotExplained() throws {
    let ws = try SessionWorkspace(blinded: true, hideModel: true)
    let bob = try ws.app("bob")
    bob.dispatch(key("g"))
    bob.dispatch(key(.enter))
    #expect(has(bob.frame, "Model hidden in this session"))
    let (s, effects) = update(bob.state, key("e"))
    #expect(effects.isEmpty && !s.explanations.showExplanation)
    #expect(View.render(s).text(row: 39).contains("The model is hidden"))
    let (s2, e2) = update(bob.state, key("d"))
    #expect(e2.isEmpty && !s2.explanations.showDetections)
  }

  @Test func theWorkerComputesInTheBackgroundAndCachesOnDisk() throws {
    let (app, store, dir) = try Self.workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.explanationWorker.request.lime.samples = 64
    var seen: [ExplainEvent] = []
    app.eventObserver = { if case .explain(let e) = $0 { seen.append(e) } }
    app.dispatch(key(.enter))
    app.dispatch(key("e"))
    #expect(app.waitForBackgroundWork())
    let lime = ExplanationKey(caseID: 1, modelVersion: 1, method: .lime)
    #expect(app.state.explanations.current?.key == lime)
    #expect(app.state.explanations.pending == nil)
    #expect(seen.contains { if case .progress(lime, _, 64) = $0 { true } else { false } })
    #expect(
      seen.contains { if case .ready(let c, cached: false) = $0 { c.key.method == .gradcam } else { false } })
    let file = try #require(app.explanationWorker.cacheFile(lime))
    #expect(file.hasPrefix(store.workspace.userCacheDirectory + "/explanations/"))
    #expect(FileManager.default.fileExists(atPath: file))
    let computed = try #require(app.state.explanations.current?.explanation)
    #expect(has(app.frame, "LIME, \(computed.superpixels!.count) regions for \(computed.className)"))

    // A second app (another session later): served from the disk cache, identical.
    let other = try ReviewApp(
      store: try Workspace.open(path: store.workspace.directory), rater: "bob", session: nil, rows: 40,
      columns: 120, graphics: true)
    other.begin()
    var cached: [ExplainEvent] = []
    other.eventObserver = { if case .explain(let e) = $0 { cached.append(e) } }
    other.dispatch(key(.enter))
    other.dispatch(key("e"))
    #expect(other.waitForBackgroundWork())
    #expect(cached.allSatisfy { if case .ready(_, cached: true) = $0 { true } else { false } })
    let fromDisk = try #require(other.state.explanations.current?.explanation)
    #expect(fromDisk.heatmap == computed.heatmap && fromDisk.regionWeights == computed.regionWeights)
    #expect(
      fromDisk.superpixels?.labels == computed.superpixels?.labels
        && fromDisk.topRegions == computed.topRegions)
    #expect(fromDisk.corner == computed.corner && fromDisk.className == computed.className)

    // Leaving the case cancels its LIME: opening case 2 and at once case 3 computes only case 3's.
    app.explanationWorker.request.lime.samples = 500
    seen = []
    app.dispatch(key("n"))
    app.dispatch(key("n"))
    #expect(app.waitForBackgroundWork())
    #expect(app.state.explanations.current?.key == ExplanationKey(caseID: 3, modelVersion: 1, method: .lime))
    #expect(
      !seen.contains {
        if case .ready(let c, _) = $0 {
          c.key == ExplanationKey(caseID: 2, modelVersion: 1, method: .lime)
        } else {
          false
        }
      })
  }
}
