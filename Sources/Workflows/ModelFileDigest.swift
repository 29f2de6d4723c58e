import Foundation
import MTACNN

/// The SHA-256 of a model file in lower-case hex, as the model registry records it: a registered
/// model is used only while its file still has this digest.
public func sha256Hex(path: String) throws(WorkflowError) -> String {
  guard let data = FileManager.default.contents(atPath: path) else {
    throw WorkflowError("cannot read \(path)")
  }
  return StratifiedSplit.sha256(Array(data)).map { String(format: "%02x", $0) }.joined()
}
