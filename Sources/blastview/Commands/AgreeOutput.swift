import Agreement
import Foundation

/// Output helpers of `agree` and `agree-masks`: terminal-safe text, JSON, number formats.
enum AgreeOutput {
  /// A string from a file or the user, safe to print: C0 and C1 control characters, DEL
  /// and the bidirectional-override and zero-width format characters become `?`, so no
  /// escape sequence or reordering from data reaches the terminal.
  static func safe(_ s: String) -> String {
    var out = String.UnicodeScalarView()
    for u in s.unicodeScalars {
      let v = u.value
      let control = v < 0x20 || (v >= 0x7F && v < 0xA0)
      let format =
        (0x200B...0x200F).contains(v) || (0x202A...0x202E).contains(v)
        || (0x2066...0x2069).contains(v) || v == 0xFEFF
      out.append(control || format ? "?" : u)
    }
    return String(out)
  }

  /// A coefficient to three decimals ("0.712", "-0.050").
  static func fixed(_ x: Double, _ digits: Int = 3) -> String {
    String(format: "%.\(digits)f", x)
  }
}

/// A JSON value, written with every string escaped (control characters as \u00XX) and
/// doubles in their shortest round-trip form, so scripts read exactly the computed numbers.
indirect enum AgreeJSON {
  case null
  case bool(Bool)
  case int(Int)
  case uint(UInt64)
  case double(Double)
  case string(String)
  case array([AgreeJSON])
  /// Keys keep their order.
  case object([(String, AgreeJSON)])

  static func number(_ x: Double?) -> AgreeJSON {
    guard let x, x.isFinite else { return .null }
    return .double(x)
  }

  static func interval(_ i: Interval?) -> AgreeJSON {
    guard let i else { return .null }
    return .array([.number(i.lower), .number(i.upper)])
  }

  func render(indent: Int = 0) -> String {
    let pad = String(repeating: "  ", count: indent + 1)
    let end = String(repeating: "  ", count: indent)
    switch self {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .uint(let u): return String(u)
    case .double(let d): return d.isFinite ? "\(d)" : "null"
    case .string(let s): return AgreeJSON.quote(s)
    case .array(let a):
      if a.isEmpty { return "[]" }
      // Arrays of numbers stay on one line (intervals, matrix rows).
      if a.allSatisfy({ $0.isScalar }) { return "[" + a.map { $0.render() }.joined(separator: ", ") + "]" }
      return "[\n" + a.map { pad + $0.render(indent: indent + 1) }.joined(separator: ",\n") + "\n" + end + "]"
    case .object(let o):
      if o.isEmpty { return "{}" }
      return "{\n"
        + o.map { pad + AgreeJSON.quote($0.0) + ": " + $0.1.render(indent: indent + 1) }.joined(
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

  static func quote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        let v = u.value
        if v < 0x20 || (v >= 0x7F && v < 0xA0) || (0x2028...0x2029).contains(v) {
          out += String(format: "\\u%04x", v)
        } else {
          out.unicodeScalars.append(u)
        }
      }
    }
    return out + "\""
  }
}
