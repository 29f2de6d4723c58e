import Foundation

/// The long ratings CSV of `blastview agree --ratings`: a header naming the columns `item`
/// (or `case`), `rater` and `label` (any order, any case; other columns are ignored), then one rating
/// per row. A missing rating is an absent row. Fields follow RFC 4180: commas, double
/// quotes around fields that hold commas, quotes or line breaks, `""` for a quote inside;
/// LF or CRLF line ends; a UTF-8 byte-order mark is skipped. Spaces around unquoted fields
/// are trimmed. Blank lines are skipped.
public struct RatingsCSV: Sendable {
  /// The ratings, with the file line each started on (for error messages).
  public var rows: [LongRating]
  public var lines: [Int]

  public init(path: String) throws(RatingsFileError) {
    guard let data = FileManager.default.contents(atPath: path) else {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
        throw RatingsFileError(
          path, isDirectory.boolValue ? "is a directory, not a CSV file" : "cannot be read")
      }
      throw RatingsFileError(path, "does not exist")
    }
    try self.init(bytes: [UInt8](data), name: path)
  }

  public init(bytes: [UInt8], name: String) throws(RatingsFileError) {
    guard var text = String(validating: bytes, as: UTF8.self) else {
      throw RatingsFileError(name, "is not UTF-8 text")
    }
    if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
    let records = try CSVRecords.parse(text, name: name)
    guard let header = records.first(where: { !$0.isBlank }) else {
      throw RatingsFileError(name, "is empty; expected a header line item,rater,label")
    }
    // `case` is accepted for `item`: the store's label files (`labels import`, exports) use it.
    let names = header.fields.map { n -> String in
      let lower = n.lowercased()
      return lower == "case" ? "item" : lower
    }
    var column: [String: Int] = [:]
    for (i, n) in names.enumerated() where ["item", "rater", "label"].contains(n) {
      if column[n] != nil {
        throw RatingsFileError(
          name, line: header.line,
          n == "item"
            ? "the header names the item column twice (item or case)" : "the header names column '\(n)' twice"
        )
      }
      column[n] = i
    }
    let missing = ["item", "rater", "label"].filter { column[$0] == nil }
    guard missing.isEmpty, let ci = column["item"], let cr = column["rater"], let cl = column["label"] else {
      throw RatingsFileError(
        name, line: header.line,
        "the header must name the columns item (or case), rater and label; missing "
          + missing.joined(separator: ", ") + " (found: " + header.fields.joined(separator: ",") + ")")
    }
    rows = []
    lines = []
    for record in records where record.line > header.line && !record.isBlank {
      guard record.fields.count == header.fields.count else {
        throw RatingsFileError(
          name, line: record.line,
          "expected \(header.fields.count) fields like the header, found \(record.fields.count)")
      }
      for (key, index) in [("item", ci), ("rater", cr), ("label", cl)] where record.fields[index].isEmpty {
        let hint = key == "label" ? " (leave the row out for a missing rating)" : ""
        throw RatingsFileError(name, line: record.line, "empty \(key)\(hint)")
      }
      rows.append(LongRating(item: record.fields[ci], rater: record.fields[cr], label: record.fields[cl]))
      lines.append(record.line)
    }
  }
}

/// One CSV record and the line it starts on.
struct CSVRecord {
  var fields: [String]
  var line: Int
  var isBlank: Bool { fields.count == 1 && fields[0].isEmpty }
}

enum CSVRecords {
  /// Splits RFC 4180 text into records, working on UTF-8 bytes (every delimiter is ASCII,
  /// so multi-byte characters pass through untouched). A quote may only open a field and
  /// must be closed.
  static func parse(_ text: String, name: String) throws(RatingsFileError) -> [CSVRecord] {
    let comma = UInt8(ascii: ",")
    let quote = UInt8(ascii: "\"")
    let newline = UInt8(ascii: "\n")
    let cr = UInt8(ascii: "\r")
    let space = UInt8(ascii: " ")
    let tab = UInt8(ascii: "\t")
    var records: [CSVRecord] = []
    var fields: [String] = []
    var field: [UInt8] = []
    var quoted = false  // the current field was quoted (so it is not trimmed)
    var inQuotes = false
    var line = 1
    var recordLine = 1
    func endField() {
      if quoted {
        fields.append(String(decoding: field, as: UTF8.self))
      } else {
        var s = field[...]
        while let f = s.first, f == space || f == tab { s.removeFirst() }
        while let l = s.last, l == space || l == tab { s.removeLast() }
        fields.append(String(decoding: s, as: UTF8.self))
      }
      field.removeAll(keepingCapacity: true)
      quoted = false
    }
    var bytes = Array(text.utf8)[...]
    while let c = bytes.popFirst() {
      if inQuotes {
        if c == quote {
          if bytes.first == quote {
            bytes.removeFirst()
            field.append(quote)
          } else {
            inQuotes = false
          }
        } else {
          if c == newline { line += 1 }
          field.append(c)
        }
        continue
      }
      switch c {
      case quote:
        guard !quoted, field.allSatisfy({ $0 == space || $0 == tab }) else {
          throw RatingsFileError(
            name, line: line, "a double quote inside an unquoted field; quote the whole field")
        }
        field.removeAll(keepingCapacity: true)
        quoted = true
        inQuotes = true
      case comma:
        endField()
      case cr where bytes.first == newline:
        continue
      case newline:
        endField()
        records.append(CSVRecord(fields: fields, line: recordLine))
        fields = []
        line += 1
        recordLine = line
      case space where quoted, tab where quoted:
        continue  // spaces after a closing quote
      default:
        if quoted {
          throw RatingsFileError(
            name, line: line, "text after a closing quote; a quoted field ends at its quote")
        }
        field.append(c)
      }
    }
    if inQuotes { throw RatingsFileError(name, line: recordLine, "a quoted field is never closed") }
    if !fields.isEmpty || !field.isEmpty || quoted {
      endField()
      records.append(CSVRecord(fields: fields, line: recordLine))
    }
    return records
  }
}

/// A ratings or weights file that cannot be read, naming it (and the line) and saying what is
/// wrong. The text quotes the file's own content as it is: whoever prints it sanitises it.
public struct RatingsFileError: Error, Equatable, Sendable, CustomStringConvertible {
  public let file: String
  public let line: Int?
  public let problem: String

  public init(_ file: String, line: Int? = nil, _ problem: String) {
    self.file = file
    self.line = line
    self.problem = problem
  }

  public var description: String { (line.map { "\(file) line \($0)" } ?? file) + ": " + problem }
}
