import FileSafety
import Foundation

/// The `case,rater,label` file of `labels import`, read and checked the same way by both
/// backends: every row is checked before anything is written, and any bad row (unknown case,
/// label or rater, wrong column count) is reported with its line number.
enum LabelRowsCSV {
  typealias Row = (caseID: Int64, rater: String, label: String)

  /// The checked rows of `csvPath`. `resolveCase` turns a row's case text into an id;
  /// `raterProblem` says what is wrong with a row's rater for this store, or nil.
  static func read(
    _ csvPath: String, schema: LabelSchema,
    resolveCase: (String) throws(StoreError) -> Int64,
    raterProblem: (String) -> String?
  ) throws(StoreError) -> [Row] {
    // SafeFile.read: a FIFO or device named here is refused, not waited on forever.
    let data: [UInt8]
    do { data = try SafeFile.read(csvPath, maxBytes: 256 << 20) } catch {
      throw .io(path: csvPath, reason: error.why)
    }
    let table = CSV.parseLines(String(decoding: data, as: UTF8.self))
    guard let header = table.first else { throw .invalidInput("\(csvPath) is empty") }
    let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    guard let ci = names.firstIndex(of: "case"), let ri = names.firstIndex(of: "rater"),
      let li = names.firstIndex(of: "label")
    else {
      throw .invalidInput(
        "\(csvPath): line \(header.line): the header must name the columns case, rater, label")
    }
    var problems: [String] = []
    var rows: [Row] = []
    for (line, fields) in table.dropFirst() {
      if fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
      guard fields.count == header.fields.count else {
        problems.append("line \(line): \(fields.count) columns, the header has \(header.fields.count)")
        continue
      }
      let caseText = fields[ci].trimmingCharacters(in: .whitespaces)
      let rater = fields[ri].trimmingCharacters(in: .whitespaces)
      let labelText = fields[li].trimmingCharacters(in: .whitespaces)
      var caseID: Int64? = nil
      do { caseID = try resolveCase(caseText) } catch {
        problems.append("line \(line): \(error.description)")
      }
      if let problem = raterProblem(rater) { problems.append("line \(line): \(problem)") }
      guard let label = schema.resolve(labelText)?.name else {
        problems.append(
          "line \(line): unknown label \"\(labelText)\" (labels: \(schema.classNames.joined(separator: ", ")))"
        )
        continue
      }
      if let caseID { rows.append((caseID, rater, label)) }
    }
    if !problems.isEmpty {
      let shown = problems.prefix(20).joined(separator: "\n  ")
      throw .invalidInput(
        "\(csvPath): \(problems.count) bad row(s); nothing was imported:\n  \(shown)"
          + (problems.count > 20 ? "\n  ..." : ""))
    }
    return rows
  }
}
