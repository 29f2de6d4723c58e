// casestore-writer: a rater process for CaseStore's multi-process tests.
//
//   casestore-writer WORKSPACE RATER COUNT CASES [--masks]
//
// Writes COUNT annotations (COUNT 0: until killed) as RATER, cycling over case ids
// 1...CASES, and prints "ack <annotation id> <i> <case> <label>" on stdout after each
// `annotate` call has returned, i.e. after the write is committed. The concurrency test
// checks that no process saw an error and every row is present; the crash test SIGKILLs
// it and checks that every acknowledged write survived.
import CaseStore
import Foundation
import Imaging

let args = CommandLine.arguments
guard args.count >= 5, let count = Int(args[3]), let cases = Int64(args[4]), cases > 0 else {
  FileHandle.standardError.write(Data("usage: casestore-writer WORKSPACE RATER COUNT CASES [--masks]\n".utf8))
  exit(2)
}
let rater = args[2]
let withMasks = args.contains("--masks")
do {
  let store = try Workspace.open(path: args[1])
  let labels = store.labelSchema.classNames
  var i = 0
  while count == 0 || i < count {
    let caseID = Int64(i) % cases + 1
    let label = labels[(i + rater.utf8.count) % labels.count]
    var mask: Mask? = nil
    if withMasks && i % 2 == 1 {
      let c = try store.caseRecord(id: caseID, viewer: .system)
      var m = Mask(width: c.width, height: c.height)
      for p in 0..<min(m.values.count, i % 64 + 1) { m.values[p] = 255 }
      mask = m
    }
    let a = try store.annotate(case: caseID, rater: rater, label: label, mask: mask, note: "\(rater)-\(i)")
    FileHandle.standardOutput.write(Data("ack \(a.id) \(i) \(caseID) \(label)\n".utf8))
    i += 1
  }
} catch {
  FileHandle.standardError.write(Data("error: \(error)\n".utf8))
  exit(1)
}
