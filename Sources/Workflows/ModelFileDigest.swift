import FileSafety
import Foundation
import MTACNN

/// The SHA-256 of a model file in lower-case hex, as the model registry records it: a registered
/// model is used only while its file still has this digest.
public func sha256Hex(path: String) throws(WorkflowError) -> String {
  // Read like every other input: a FIFO or device is refused at once, the size is bounded.
  let data: [UInt8]
  do { data = try SafeFile.read(path, maxBytes: 4 << 30) } catch {
    throw WorkflowError("cannot read \(path): \(error.why)")
  }
  return StratifiedSplit.sha256(data).map { String(format: "%02x", $0) }.joined()
}
