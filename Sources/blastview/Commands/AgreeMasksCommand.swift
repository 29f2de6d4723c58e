import Agreement
import ArgumentParser
import Foundation
import Imaging

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
      use --threshold 255 to compare nuclei only. See docs/agreement.md.
      """)

  @Argument(help: ArgumentHelp("The reference mask (PNG, BMP or JPEG; gray or RGB).", valueName: "a"))
  var a: String

  @Argument(help: ArgumentHelp("The other mask.", valueName: "b"))
  var b: String

  @Option(name: .long, help: "Pixels with a value at or above this are nucleus (1-255).")
  var threshold: Int = 128

  @Option(name: .long, help: "Pixel neighbourhood of a nucleus: 4 or 8.")
  var connectivity: Int = 8

  @Flag(name: .long, help: "Print JSON instead of the text report.")
  var json = false

  func validate() throws {
    guard (1...255).contains(threshold) else {
      throw ValidationError("--threshold must be between 1 and 255, got \(threshold)")
    }
    guard connectivity == 4 || connectivity == 8 else {
      throw ValidationError("--connectivity must be 4 or 8, got \(connectivity)")
    }
  }

  func run() throws {
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
      ("a", .string(a)), ("b", .string(b)), ("width", .int(m.width)), ("height", .int(m.height)),
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
    out.append("Mask agreement: \(safe(a)) (reference) against \(safe(b)), \(m.width)×\(m.height)")
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
}
