import Foundation

/// The CLI's one JSON writer: every `--json` report is built as this value (directly, or from
/// an `Encodable` or from JSON bytes) and written by `render`, so all of them escape the same
/// way and look the same.
///
/// Strings escape `"` and `\`, every C0 and C1 control and DEL, and every other scalar the
/// terminal `Sanitizer` filters (bidi overrides and isolates, zero-width and other format
/// characters, U+2028/U+2029) as `\uXXXX`: a report that names a hostile file can be printed on
/// a terminal as it is, and a program still reads the exact name. Doubles are written in their
/// shortest round-trip form, so scripts read exactly the computed numbers. Object keys keep
/// the order they were given in; values converted from `Encodable` or bytes have sorted keys.
public enum JSONOutput: Decodable, Sendable {
  case null
  case bool(Bool)
  case int(Int)
  case uint(UInt64)
  case double(Double)
  case string(String)
  case array([JSONOutput])
  /// Keys keep their order.
  case object([(String, JSONOutput)])

  /// A finite number, or null (JSON has no NaN or infinity).
  public static func number(_ x: Double?) -> JSONOutput {
    guard let x, x.isFinite else { return .null }
    return .double(x)
  }

  /// `value` as `JSONEncoder` encodes it (dates in ISO 8601), keys sorted.
  public init<T: Encodable>(encoding value: T) throws {
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .iso8601
    try self.init(jsonData: encoder.encode(value))
  }

  /// The JSON document in `data` (from `JSONSerialization` or `JSONEncoder`), keys sorted.
  public init(jsonData data: Data) throws {
    self = try JSONDecoder().decode(JSONOutput.self, from: data)
  }

  /// The members of `objects` in one object, keys sorted; a later object's member replaces an
  /// earlier one's (non-objects are skipped). For reports assembled from several `Encodable`
  /// parts: merged here, not through `JSONSerialization`, whose parser reads some doubles one
  /// unit in the last place off on Linux (0.003732621669769287 as ...286), which would change
  /// the numbers a report prints.
  public static func merging(_ objects: [JSONOutput]) -> JSONOutput {
    var members: [String: JSONOutput] = [:]
    for case .object(let entries) in objects {
      for (k, v) in entries { members[k] = v }
    }
    return .object(members.keys.sorted().map { ($0, members[$0]!) })
  }

  /// Writes this value and a line break on standard output.
  public func print() {
    Swift.print(render())
  }

  /// Writes `value`, encoded, on standard output.
  public static func print<T: Encodable>(_ value: T) throws {
    try JSONOutput(encoding: value).print()
  }

  /// Writes the JSON document `data` on standard output.
  public static func print(jsonData data: Data) throws {
    try JSONOutput(jsonData: data).print()
  }

  /// Two-space indented text; arrays of scalars stay on one line (intervals, matrix rows).
  public func render(indent: Int = 0) -> String {
    let pad = String(repeating: "  ", count: indent + 1)
    let end = String(repeating: "  ", count: indent)
    switch self {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .uint(let u): return String(u)
    case .double(let d): return d.isFinite ? "\(d)" : "null"
    case .string(let s): return JSONOutput.quote(s)
    case .array(let a):
      if a.isEmpty { return "[]" }
      if a.allSatisfy({ $0.isScalar }) { return "[" + a.map { $0.render() }.joined(separator: ", ") + "]" }
      return "[\n" + a.map { pad + $0.render(indent: indent + 1) }.joined(separator: ",\n") + "\n" + end + "]"
    case .object(let o):
      if o.isEmpty { return "{}" }
      return "{\n"
        + o.map { pad + JSONOutput.quote($0.0) + ": " + $0.1.render(indent: indent + 1) }.joined(
          separator: ",\n")
        + "\n" + end + "}"
    }
  }

  private var isScalar: Bool {
    switch self {
    case .array, .object: return false
    default: return true
    }
  }

  /// `s` as a JSON string literal (see the type's documentation for what is escaped).
  public static func quote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if u.value < 0x20 || Sanitizer.needsFiltering(u) {
          // Scalars above the BMP (tag characters) as their UTF-16 surrogate pair.
          for unit in String(u).utf16 { out += String(format: "\\u%04x", unit) }
        } else {
          out.unicodeScalars.append(u)
        }
      }
    }
    return out + "\""
  }
}

extension JSONOutput {
  private struct Key: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  public init(from decoder: any Decoder) throws {
    if let c = try? decoder.container(keyedBy: Key.self) {
      self = .object(
        try c.allKeys.map(\.stringValue).sorted().map {
          ($0, try c.decode(JSONOutput.self, forKey: Key(stringValue: $0)))
        })
    } else if var a = try? decoder.unkeyedContainer() {
      var items: [JSONOutput] = []
      while !a.isAtEnd { items.append(try a.decode(JSONOutput.self)) }
      self = .array(items)
    } else {
      let c = try decoder.singleValueContainer()
      if c.decodeNil() {
        self = .null
      } else if let b = try? c.decode(Bool.self) {
        self = .bool(b)
      } else if let i = try? c.decode(Int.self) {
        self = .int(i)
      } else if let u = try? c.decode(UInt64.self) {
        self = .uint(u)
      } else if let d = try? c.decode(Double.self) {
        self = .double(d)
      } else {
        self = .string(try c.decode(String.self))
      }
    }
  }
}
