import Agreement
import ArgumentParser
import CaseStore
import Foundation
import Imaging
import Workflows

/// `blastview agree-masks`: agreement of two raters' nucleus masks (DESIGN §5, issue 6).
struct AgreeMasksCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "agree-masks",
    abstract: "Agreement of two nucleus masks: pixel Dice and IoU, matched nuclei, PQ, AJI.",
    discussion: """
      Nuclei are the connected components of the pixels at or above --threshold (8-connected \
      unless --connectivity 4). The first mask is the reference: recall is over its nuclei, \
      precision over the second's, and AJI takes its nuclei in turn. Nuclei match one-to-one \
      when their IoU is above 0.5. For the wbc-seg expert masks (nucleus 255, cytoplasm 128) \
      use --threshold 255 to compare nuclei only.

      With --session, compares two raters' current masks on every case of the session where \
      both drew one (as --rater may see them; a blinded rater sees only cases they labelled), \
      case by case and pooled over the cases. See docs/agreement.md.
      """)

  @Argument(help: ArgumentHelp("The reference mask (PNG, BMP or JPEG; gray or RGB).", valueName: "a"))
  var a: String?

  @Argument(help: ArgumentHelp("The other mask.", valueName: "b"))
  var b: String?

  @OptionGroup var workspace: WorkspaceOptions
  @OptionGroup var reader: RaterOption

  @Option(
    name: .long, help: ArgumentHelp("Compare masks of this session instead of two files.", valueName: "name"))
  var session: String?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "With --session: the two raters, reference first (default: the session's two).", valueName: "a,b"))
  var raters: String?

  @Option(name: .long, help: "Pixels with a value at or above this are nucleus (1-255).")
  var threshold: Int = 128

  @Option(name: .long, help: "Pixel neighbourhood of a nucleus: 4 or 8.")
  var connectivity: Int = 8

  @Flag(name: .long, help: "Print JSON instead of the text report.")
  var json = false

  func validate() throws {
    guard (session == nil && a != nil && b != nil) || (session != nil && a == nil && b == nil) else {
      throw ValidationError("give two mask files, or --session NAME")
    }
    guard raters == nil || session != nil else { throw ValidationError("--raters goes with --session") }
    guard (1...255).contains(threshold) else {
      throw ValidationError("--threshold must be between 1 and 255, got \(threshold)")
    }
    guard connectivity == 4 || connectivity == 8 else {
      throw ValidationError("--connectivity must be 4 or 8, got \(connectivity)")
    }
  }

  func run() throws {
    if let session { return try runSession(session) }
    let (a, b) = (self.a!, self.b!)
    let maskA = try load(a)
    let maskB = try load(b)
    guard maskA.width == maskB.width, maskA.height == maskB.height else {
      throw AgreeInputError(
        message:
          "the masks differ in size: \(a) is \(maskA.width)×\(maskA.height), \(b) is \(maskB.width)×\(maskB.height)"
      )
    }
    let agreement = try MaskAgreement(reference: try instances(maskA), other: try instances(maskB))
    if json {
      print(jsonReport(agreement).render())
    } else {
      print(textReport(agreement), terminator: "")
    }
  }

  private func load(_ path: String) throws -> Mask {
    do {
      return try decodeMask(at: path)
    } catch {
      throw AgreeInputError(message: "\(error)")
    }
  }

  private func instances(_ mask: Mask) throws -> InstanceMap {
    let components = mask.connectedComponents(
      connectivity: connectivity == 4 ? .four : .eight, threshold: UInt8(threshold))
    return try InstanceMap(width: components.width, height: components.height, labels: components.labels)
  }

  func jsonReport(_ m: MaskAgreement) -> AgreeJSON {
    .object([
      ("a", .string(a ?? "")), ("b", .string(b ?? "")), ("width", .int(m.width)), ("height", .int(m.height)),
      ("threshold", .int(threshold)), ("connectivity", .int(connectivity)),
      ("area_a", .int(m.areaA)), ("area_b", .int(m.areaB)), ("intersection", .int(m.intersection)),
      ("dice", .number(m.dice.value)), ("iou", .number(m.iou.value)),
      ("nuclei_a", .int(m.nucleiA)), ("nuclei_b", .int(m.nucleiB)),
      ("iou_threshold", .double(MaskAgreement.matchThreshold)), ("matched", .int(m.truePositives)),
      ("false_positives", .int(m.falsePositives)), ("false_negatives", .int(m.falseNegatives)),
      ("precision", .number(m.precision.value)), ("recall", .number(m.recall.value)),
      ("f1", .number(m.f1.value)), ("pq", .number(m.pq.value)), ("sq", .number(m.sq.value)),
      ("dq", .number(m.dq.value)), ("aji", .number(m.aji.value)), ("aji_plus", .number(m.ajiPlus.value)),
      (
        "matches",
        .array(
          m.matches.map { x in
            .object([("a", .int(Int(x.a))), ("b", .int(Int(x.b))), ("iou", .number(x.iou))])
          })
      ),
      (
        "undefined",
        .array(
          m.undefined.map { u in
            .object([("statistic", .string(u.statistic)), ("reason", .string(u.reason))])
          })
      ),
    ])
  }

  func textReport(_ m: MaskAgreement) -> String {
    let f = { (r: Result<Double, Undefined>) in r.value.map { AgreeOutput.fixed($0) } ?? "undefined" }
    let safe = AgreeOutput.safe
    var out: [String] = []
    out.append(
      "Mask agreement: \(safe(a ?? "")) (reference) against \(safe(b ?? "")), \(m.width)×\(m.height)")
    out.append(
      "Nuclei are the \(connectivity)-connected components of pixels ≥ \(threshold); "
        + "a pair matches when its IoU is above 0.5.")
    out.append("")
    out.append(
      "Pixels     reference \(m.areaA), other \(m.areaB), both \(m.intersection): "
        + "Dice \(f(m.dice)), IoU \(f(m.iou))")
    out.append(
      "Nuclei     reference \(m.nucleiA), other \(m.nucleiB); matched \(m.truePositives), "
        + "false positives \(m.falsePositives), false negatives \(m.falseNegatives)")
    out.append("Detection  precision \(f(m.precision)), recall \(f(m.recall)), F1 \(f(m.f1))")
    out.append("Panoptic   PQ \(f(m.pq)) = SQ \(f(m.sq)) (mean IoU of matches) × DQ \(f(m.dq))")
    out.append("AJI        \(f(m.aji)) (MoNuSeg), AJI+ \(f(m.ajiPlus)) (one-to-one)")
    if !m.undefined.isEmpty {
      out.append("")
      out.append("Undefined:")
      for u in m.undefined { out.append("  \(u.statistic): \(u.reason)") }
    }
    return out.joined(separator: "\n") + "\n"
  }

  // MARK: Sessions

  /// Two raters' masks over a session's cases: per case, pooled and mean.
  func runSession(_ name: String) throws {
    let store = try workspace.open()
    let info: SessionInfo
    let rows: [RaterMask]
    do {
      info = try store.session(named: name)
      rows = try store.currentMasks(session: name, viewer: Viewer(rater: reader.name))
    } catch {
      throw CLIError(error)
    }
    let pair: [String]
    if let raters {
      pair = try AgreeCommand.list(raters, option: "--raters")
      guard pair.count == 2, pair[0] != pair[1] else {
        throw AgreeInputError(
          message: "--raters needs two different raters for mask agreement, got '\(raters)'")
      }
      for r in pair where !info.raters.contains(r) {
        throw AgreeInputError(
          message:
            "rater '\(r)' is not in session '\(name)' (its raters: \(info.raters.joined(separator: ", ")))")
      }
    } else {
      guard info.raters.count == 2 else {
        throw AgreeInputError(
          message:
            "session '\(name)' has \(info.raters.count) raters (\(info.raters.joined(separator: ", "))); "
            + "choose two with --raters")
      }
      pair = info.raters
    }
    let pairAgreement: MaskPairAgreement
    do {
      pairAgreement = try MaskPairAgreement.compute(
        store: store, rows: rows, a: pair[0], b: pair[1], threshold: UInt8(threshold),
        connectivity: connectivity == 4 ? .four : .eight)
    } catch {
      switch error {
      case .store(let e): throw CLIError(e)
      case .input(let m): throw AgreeInputError(message: m)
      }
    }
    let results = pairAgreement.cases.map { (caseID: $0.caseID, agreement: $0.agreement) }
    let (onlyA, onlyB) = (pairAgreement.onlyA, pairAgreement.onlyB)
    let summary = pairAgreement.summary
    if json {
      print(
        sessionJSON(name, pair: pair, results: results, summary: summary, onlyA: onlyA, onlyB: onlyB).render()
      )
    } else {
      print(
        sessionText(
          name, info: info, pair: pair, results: results, summary: summary, onlyA: onlyA, onlyB: onlyB),
        terminator: "")
    }
  }

  func sessionJSON(
    _ name: String, pair: [String], results: [(caseID: Int64, agreement: MaskAgreement)],
    summary s: MaskAgreementSummary, onlyA: Int, onlyB: Int
  ) -> AgreeJSON {
    func mean(_ m: MaskAgreementSummary.Mean) -> AgreeJSON {
      .object([("value", .number(m.value.value)), ("images", .int(m.images))])
    }
    return .object([
      ("session", .string(name)), ("raters", .array(pair.map { .string($0) })),
      ("threshold", .int(threshold)), ("connectivity", .int(connectivity)),
      ("n_cases", .int(results.count)), ("only_a", .int(onlyA)), ("only_b", .int(onlyB)),
      (
        "pooled",
        .object([
          ("dice", .number(s.pooledDice.value)), ("iou", .number(s.pooledIoU.value)),
          ("nuclei_a", .int(s.nucleiA)), ("nuclei_b", .int(s.nucleiB)), ("matched", .int(s.truePositives)),
          ("false_positives", .int(s.falsePositives)), ("false_negatives", .int(s.falseNegatives)),
          ("precision", .number(s.pooledPrecision.value)), ("recall", .number(s.pooledRecall.value)),
          ("f1", .number(s.pooledF1.value)), ("sq", .number(s.pooledSQ.value)),
          ("pq", .number(s.pooledPQ.value)),
          ("aji", .number(s.pooledAJI.value)), ("aji_plus", .number(s.pooledAJIPlus.value)),
        ])
      ),
      (
        "mean",
        .object([
          ("dice", mean(s.meanDice)), ("iou", mean(s.meanIoU)), ("f1", mean(s.meanF1)),
          ("pq", mean(s.meanPQ)),
          ("aji", mean(s.meanAJI)), ("aji_plus", mean(s.meanAJIPlus)),
        ])
      ),
      (
        "cases",
        .array(
          results.map { c in
            let m = c.agreement
            return .object([
              ("case", .int(Int(c.caseID))), ("dice", .number(m.dice.value)), ("iou", .number(m.iou.value)),
              ("nuclei_a", .int(m.nucleiA)), ("nuclei_b", .int(m.nucleiB)),
              ("matched", .int(m.truePositives)),
              ("precision", .number(m.precision.value)), ("recall", .number(m.recall.value)),
              ("f1", .number(m.f1.value)), ("sq", .number(m.sq.value)), ("pq", .number(m.pq.value)),
              ("aji", .number(m.aji.value)), ("aji_plus", .number(m.ajiPlus.value)),
            ])
          })
      ),
      (
        "undefined",
        .array(
          s.undefined.map { u in
            .object([("statistic", .string(u.statistic)), ("reason", .string(u.reason))])
          })
      ),
    ])
  }

  func sessionText(
    _ name: String, info: SessionInfo, pair: [String], results: [(caseID: Int64, agreement: MaskAgreement)],
    summary s: MaskAgreementSummary, onlyA: Int, onlyB: Int
  ) -> String {
    let safe = AgreeOutput.safe
    let f = { (r: Result<Double, Undefined>) in r.value.map { AgreeOutput.fixed($0) } ?? "-" }
    var out: [String] = []
    out.append(
      "Mask agreement in session \(safe(name)): \(safe(pair[0])) (reference) against \(safe(pair[1])), "
        + "read as \(safe(reader.name))")
    out.append(
      "Nuclei are the \(connectivity)-connected components of pixels ≥ \(threshold); a pair matches when its IoU is above 0.5."
    )
    out.append(
      "\(results.count) of \(info.caseCount) cases have a mask from both; only \(safe(pair[0])): \(onlyA), "
        + "only \(safe(pair[1])): \(onlyB)")
    if !results.isEmpty {
      out.append("")
      var grid: [[String]] = [["case", "Dice", "IoU", "nuclei", "matched", "F1", "PQ", "AJI", "AJI+"]]
      for (c, m) in results {
        grid.append([
          String(c), f(m.dice), f(m.iou), "\(m.nucleiA)/\(m.nucleiB)", String(m.truePositives), f(m.f1),
          f(m.pq),
          f(m.aji), f(m.ajiPlus),
        ])
      }
      out += AgreeReport.alignedTable(grid)
    }
    out.append("")
    out.append(
      "Pooled over the cases: Dice \(f(s.pooledDice)), IoU \(f(s.pooledIoU)); nuclei \(s.nucleiA)/\(s.nucleiB), "
        + "matched \(s.truePositives): precision \(f(s.pooledPrecision)), recall \(f(s.pooledRecall)), "
        + "F1 \(f(s.pooledF1)); PQ \(f(s.pooledPQ)) (SQ \(f(s.pooledSQ))); AJI \(f(s.pooledAJI)), "
        + "AJI+ \(f(s.pooledAJIPlus))")
    func mean(_ label: String, _ m: MaskAgreementSummary.Mean) -> String {
      "\(label) \(f(m.value))" + (m.images < results.count ? " (\(m.images) cases)" : "")
    }
    out.append(
      "Mean per case:         "
        + [
          mean("Dice", s.meanDice), mean("IoU", s.meanIoU), mean("F1", s.meanF1), mean("PQ", s.meanPQ),
          mean("AJI", s.meanAJI), mean("AJI+", s.meanAJIPlus),
        ].joined(separator: ", "))
    if !s.undefined.isEmpty {
      out.append("")
      out.append("Undefined:")
      for u in s.undefined { out.append("  \(u.statistic): \(u.reason)") }
    }
    return out.joined(separator: "\n") + "\n"
  }
}
