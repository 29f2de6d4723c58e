import Foundation
import MTACNN
import NeuralEngine
import Testing

/// Issue 17's CI check: the shipped checkpoints load, and `eval` on SampleData reproduces the
/// figures docs/model-card.md states for SampleData. The figures are read from the card's
/// "SampleData figures" table (between its `card-check` markers), each row with the command that
/// computes it, so the card and this test cannot drift apart: a new model ships with a new table
/// made by the same commands.
@Suite(.serialized) struct ShippedModelCardTests {
  typealias M = ModelCommandTests

  struct Row {
    var model: String
    var command: [String]
    var key: String
    var value: String
  }

  /// The rows of the card's checked table: `| model | `command` | key | value |`.
  static func rows() throws -> [Row] {
    let card = try String(
      contentsOf: M.repository.appendingPathComponent("docs/model-card.md"), encoding: .utf8)
    let begin = try #require(card.range(of: "<!-- card-check: begin -->"))
    let end = try #require(card.range(of: "<!-- card-check: end -->"))
    var rows: [Row] = []
    for line in card[begin.upperBound..<end.lowerBound].split(separator: "\n") {
      let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
      guard cells.count == 4, cells[1].hasPrefix("`blastview ") else { continue }
      let command = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`")).split(separator: " ")
        .dropFirst().map(String.init)
      rows.append(Row(model: cells[0], command: command, key: cells[2], value: cells[3]))
    }
    return rows
  }

  static func lookup(_ object: [String: Any], _ path: String) -> Double? {
    var current: Any? = object
    for part in path.split(separator: ".") { current = (current as? [String: Any])?[String(part)] }
    return current as? Double
  }

  @Test func shippedCheckpointsLoad() throws {
    for name in ["all4", "wbc5"] {
      let path = M.repository.appendingPathComponent("Models/\(name).safetensors").path
      let (net, meta) = try ModelCheckpoint.load(path: path)
      #expect(net.schema.classes.count == (name == "all4" ? 4 : 5))
      #expect(meta.configuration.schema == name)
      // all4 screens: its operating point was chosen on validation for sensitivity >= 0.995.
      if name == "all4" {
        let op = try #require(meta.operatingPoint, "the shipped all4 has no screening operating point")
        #expect(op.split == "val" && op.targetSensitivity == 0.995 && op.sensitivity >= 0.995)
      } else {
        #expect(meta.operatingPoint == nil)
      }
    }
  }

  @Test func evalOnSampleDataReproducesTheCard() throws {
    let rows = try Self.rows()
    #expect(rows.count >= 5, "the card's checked table is missing or empty")
    var outputs: [[String]: [String: Any]] = [:]
    for row in rows {
      if outputs[row.command] == nil {
        let r = try M.run(row.command + ["--threads", "2"])
        #expect(r.status == 0, "\(row.command.joined(separator: " ")): \(r.err)")
        outputs[row.command] =
          try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
      }
      let value = try #require(Self.lookup(outputs[row.command]!, row.key), "\(row.key) not in the output")
      let decimals = row.value.split(separator: ".").last?.count ?? 0
      #expect(
        String(format: "%.\(decimals)f", value) == row.value,
        "\(row.model) \(row.key): eval says \(value), the card \(row.value)")
    }
  }
}
