import Testing

@testable import MTACNN

/// A task has one spelling, `cls`/`seg` (checkpoints, the registry, jobs, the CLI); workspaces
/// made before that stored `classification`/`segmentation` in their registry and jobs, and must
/// still read.
@Suite struct ModelTaskNameTests {
  @Test func readsBothSpellings() {
    #expect(ModelTask(stored: "cls") == .cls)
    #expect(ModelTask(stored: "seg") == .seg)
    #expect(ModelTask(stored: "classification") == .cls)
    #expect(ModelTask(stored: "segmentation") == .seg)
    #expect(ModelTask(stored: " Segmentation ") == .seg)
    #expect(ModelTask(stored: "detection") == nil)
    #expect(ModelTask(stored: "") == nil)
  }

  @Test func writesTheOneSpelling() {
    #expect(ModelTask.allCases.map(\.rawValue) == ["cls", "seg"])
    #expect(ModelTask.allCases.map { ModelTask(stored: $0.rawValue) } == [.cls, .seg])
    #expect(ModelTask.allCases.map(\.title) == ["classification", "segmentation"])
  }

  @Test func listsAcceptTheOldSpellingToo() throws {
    #expect(try ModelTask.parseList("segmentation,cls") == [.cls, .seg])
    #expect(throws: ModelError.self) { try ModelTask.parseList("cls,nuclei") }
  }
}
