import CaseStore
import Foundation
import Terminal
import TestSupport
import Testing

@testable import Review

/// Issue 15, item 12: a label schema may not take a key a screen uses.
@Suite struct SchemaKeyTests {
  func schema(key: String, className: String = "Quiet") -> LabelSchema {
    LabelSchema(
      name: "keys",
      classes: [
        LabelSchema.LabelClass(name: "Normal", key: "1", letter: "N"),
        LabelSchema.LabelClass(name: className, key: key, letter: "Q"),
      ])
  }

  @Test func aWorkspaceWhoseSchemaBindsQIsRefusedByReviewNamingTheKeyAndClass() throws {
    // The attack: a schema keyed `q` made the case view record a label where the footer says
    // "q quit". A workspace created around `init`'s check must not open in review either.
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try Workspace.create(at: dir.path, schema: schema(key: "q"))
    #expect {
      _ = try ReviewApp(store: store, rater: "ana", session: nil, rows: 40, columns: 120, graphics: false)
    } throws: { e in
      let text = String(describing: e)
      return text.contains("class Quiet has the key \"q\"") && text.contains("quit")
    }
  }

  @Test func everyKeyAScreenBindsIsReservedAndTheBuiltInSchemasPass() throws {
    let reserved = KeyMap.reservedKeys
    for k in ["q", "?", "m", "a", "/", "n", "p", "e", "u", "c", "D", "L", "H"] {
      #expect(reserved[Character(k)] != nil, "\(k)")
    }
    // Derived from the key maps: every plain character bound on any screen is in the list.
    for (_, bindings) in KeyMap.fixedBindings {
      for b in bindings {
        for k in b.keys where k.modifiers.isEmpty {
          if case .character(let c) = k.key { #expect(reserved[c] != nil) }
        }
      }
    }
    for k in reserved.keys {
      #expect(throws: StoreError.self) { try KeyMap.checkSchemaKeys(schema(key: String(k))) }
    }
    try KeyMap.checkSchemaKeys(.all4)
    try KeyMap.checkSchemaKeys(.wbc5)
    try KeyMap.checkSchemaKeys(schema(key: "9"))
  }

  @Test(.enabled(if: EndToEnd.binary != nil)) func initRefusesASchemaFileThatTakesAScreenKey() throws {
    let dir = EndToEnd.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("schema.json").path
    try
      #"{"name": "two", "classes": [{"name": "Normal", "key": "1", "letter": "N"}, {"name": "Blast", "key": "m", "letter": "B"}]}"#
      .write(toFile: file, atomically: true, encoding: .utf8)
    let ws = dir.appendingPathComponent("ws").path
    let command = [EndToEnd.binary!, "init", "--workspace", ws, "--schema", file].map(EndToEnd.shellQuote)
    let r = EndToEnd.run(["/bin/sh", "-c", command.joined(separator: " ") + " 2>&1"])
    #expect(r.status != 0)
    #expect(r.output.contains("class Blast has the key \"m\""))
    #expect(!FileManager.default.fileExists(atPath: ws + "/blastview.db"))
  }
}
