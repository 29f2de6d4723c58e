import CaseStore
import Foundation
import TestSupport
import Testing

/// `T` in `blastview review`, in tmux, on both backends (issue 16: background retraining works
/// unchanged on a shared workspace). The rater bvana labels a case and presses `T`:
/// - embedded, the app starts `train --job` itself, as it always did;
/// - shared, only the service role trains (it reads every label), so the app records her
///   request; the service trainer (`train --watch`, as systemd runs it) queues the job at her
///   request and runs it.
/// Either way her status line follows the job to its end, and the model screen lists v2.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux"))) struct RetrainFromTheAppEndToEndTests {
  typealias Review = ReviewBothBackendsEndToEndTests

  @Test(arguments: Backend.all) func tInTheReviewAppRetrains(_ backend: Backend) throws {
    let review = Review()
    guard let s = try review.setUp(backend) else { return }
    defer { try? FileManager.default.removeItem(atPath: s.users.work) }
    // Twelve more cases with a reference label, so the retraining has a train and a val part.
    let more = try s.users.publicDirectory("more") + "/Pre-B"
    try FileManager.default.createDirectory(atPath: more, withIntermediateDirectories: true)
    chmod(more, 0o755)
    let source = Review.repo.appendingPathComponent("SampleData/wbc-seg/images/neutrophil").path
    for n in try FileManager.default.contentsOfDirectory(atPath: source).sorted().prefix(12) {
      try FileManager.default.copyItem(atPath: source + "/" + n, toPath: more + "/" + n)
      chmod(more + "/" + n, 0o644)
    }
    try review.ok(
      try s.cli("bvlead", ["import", more, "--labels-from-folders"], asRater: false), "import more")

    // The shipped model, registered and promoted by whoever predicts on this backend.
    let model = Review.repo.appendingPathComponent("Models/all4.safetensors").path
    let service = backend == .sqlite ? s.workspace("") : s.users.work + "/ws-service"
    try review.ok(
      try s.users.blastview(
        nil, ["predict", "--all-cases", "--model", model, "--promote", "--workspace", service]),
      "register the shipped model")
    // A short retraining (workspace settings, as a lead would set them).
    let settings = [("retrain_epochs", "1"), ("retrain_batch", "8"), ("retrain_max_batches", "2")]
    switch backend {
    case .sqlite:
      let store = try Workspace.open(path: s.workspace(""))
      for (k, v) in settings { try store.setSetting(k, v) }
    case .postgres:
      let c = try PGConnection(s.cluster!.url(s.database!, as: "blastview"))
      for (k, v) in settings {
        try c.query("INSERT INTO blastview.setting (key, value) VALUES ($1, $2)", [.text(k), .text(v)])
      }
    }

    let ana = try #require(TmuxSession(columns: 140, rows: 40, command: s.reviewCommand("bvana")))
    #expect(ana.waitFor("16 matching", seconds: 20), "\(ana.capture())")
    ana.send("Enter")
    #expect(ana.waitFor("Case #1"))
    ana.send("3")
    #expect(ana.waitFor("Saved: case #1 labelled Pre-B"), "\(ana.capture())")
    ana.send("T")
    switch backend {
    case .sqlite:
      #expect(ana.waitFor("Retraining job 1 started (pid"), "\(ana.capture())")
    case .postgres:
      #expect(ana.waitFor("Retraining requested"), "\(ana.capture())")
      // The raters' requests are the service trainer's to act on.
      let watch = try s.users.blastview(
        nil, ["train", "--watch", "--until-idle", "--workspace", service, "--threads", "2"])
      #expect(watch.status == 0, "\(watch.out)\n\(watch.err)")
      #expect(watch.out.contains("queued training job 1 at the request of bvana"), "\(watch.out)")
    }
    #expect(ana.waitFor("Retraining job 1 finished", seconds: 180), "\(ana.capture())")
    ana.send("Escape")
    ana.send("V")
    #expect(ana.waitFor("v2"), "\(ana.capture())")
    ana.send("q")
  }
}
