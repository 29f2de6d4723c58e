import Foundation
import Terminal

/// JSON as `JSONSerialization` hands it back (`[String: Any]`, `[Any]`, `NSNumber`, `String`,
/// `NSNull`), but read with `JSONDecoder`'s exact number parsing (through `JSONOutput`): on
/// Linux, `JSONSerialization` reads some doubles one unit in the last place off
/// (0.003732621669769287 as 0.003732621669769286), and a threshold a report prints must compare
/// equal to the one the checkpoint stores.
enum ExactJSON {
  static func parse(_ text: String) throws -> Any {
    foundation(try JSONOutput(jsonData: Data(text.utf8)))
  }

  static func foundation(_ value: JSONOutput) -> Any {
    switch value {
    case .null: return NSNull()
    case .bool(let b): return b
    case .int(let i): return NSNumber(value: i)
    case .uint(let u): return NSNumber(value: u)
    case .double(let d): return NSNumber(value: d)
    case .string(let s): return s
    case .array(let items): return items.map(foundation)
    case .object(let members):
      return Dictionary(members.map { ($0.0, foundation($0.1)) }, uniquingKeysWith: { $1 })
    }
  }
}
