import Foundation

/// A custom weight matrix for `--weights FILE`: a CSV whose header row is a corner cell and
/// the category names, and whose rows are a category name and its agreement weights
/// (1 = full agreement, 0 = none; diagonal 1). Names may come in any order; every category
/// must appear once as a row and once as a column.
public enum WeightsFile {
  public static func read(_ path: String, categories: [String]) throws(RatingsFileError) -> AgreementWeights {
    guard let data = FileManager.default.contents(atPath: path),
      let text = String(validating: [UInt8](data), as: UTF8.self)
    else { throw RatingsFileError(path, "cannot be read as UTF-8 text") }
    let records = try CSVRecords.parse(
      text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text, name: path
    )
    .filter { !$0.isBlank }
    guard let header = records.first else { throw RatingsFileError(path, "is empty") }
    let k = categories.count
    let columns = Array(header.fields.dropFirst())
    guard Set(columns) == Set(categories), columns.count == k else {
      throw RatingsFileError(
        path, line: header.line,
        "the header must list the categories " + categories.joined(separator: ", ")
          + " after a corner cell; found "
          + columns.joined(separator: ", "))
    }
    var values = [Double](repeating: .nan, count: k * k)
    var seenRows = Set<String>()
    for record in records.dropFirst() {
      guard record.fields.count == k + 1 else {
        throw RatingsFileError(path, line: record.line, "expected a category and \(k) weights")
      }
      let name = record.fields[0]
      guard let i = categories.firstIndex(of: name), seenRows.insert(name).inserted else {
        throw RatingsFileError(path, line: record.line, "row '\(name)' is not a category or appears twice")
      }
      for (c, cell) in record.fields.dropFirst().enumerated() {
        guard let w = Double(cell) else {
          throw RatingsFileError(path, line: record.line, "'\(cell)' is not a number")
        }
        values[i * k + categories.firstIndex(of: columns[c])!] = w
      }
    }
    guard seenRows.count == k else {
      throw RatingsFileError(
        path, "missing rows for " + categories.filter { !seenRows.contains($0) }.joined(separator: ", "))
    }
    do {
      return try AgreementWeights(name: "custom", k: k, values: values)
    } catch {
      throw RatingsFileError(
        path, "\(error) (rows and columns in the order " + categories.joined(separator: ", ") + ")")
    }
  }
}
