@_spi(Testing) import CaseStore
import Foundation
import Imaging
import Testing

/// What a rater with `psql` can make everyone else load. The workspace's functions take a mask
/// as PNG bytes plus its declared size, and the size was checked against the image, but not
/// the PNG's own header: a rater could store a mask that says 120×120 and decodes to 3000×3000
/// (or up to the decoder's 64-megapixel limit), which every colleague's review app, export and
/// agreement report then decodes. Notes and reasons had no length limit at all, in an
/// append-only table no one can clean. The database now refuses both, whoever calls.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct OversizedWritesTests {
  @Test func aMaskWhosePNGHeaderDisagreesWithItsSizeIsRefused() throws {
    let f = try ContractFixture(.postgres)
    let pg = try PGTestCluster.require()
    let ben = try PGConnection(pg.url(f.databaseName, as: f.ben))
    let detail = try f.reviewStore(f.ben).caseDetail(id: f.cases[0], viewer: .rater(f.ben))
    let (w, h) = (detail.record.width, detail.record.height)
    let bomb = encodePNG(Mask(width: 3000, height: 3000, values: [UInt8](repeating: 0, count: 9_000_000)))
    let call =
      "SELECT * FROM blastview.annotate($1, NULL, $2, encode(sha256($2), 'hex'), $3, $4, NULL, 0, NULL)"
    #expect(throws: StoreError.self) {
      try ben.query(call, [.int(f.cases[0]), .bytes(bomb), .int(Int64(w)), .int(Int64(h))])
    }
    // Not a PNG at all.
    let junk = [UInt8](repeating: 7, count: 64)
    #expect(throws: StoreError.self) {
      try ben.query(call, [.int(f.cases[0]), .bytes(junk), .int(Int64(w)), .int(Int64(h))])
    }
    // The honest mask of the same size is taken.
    let honest = encodePNG(Mask(width: w, height: h, values: [UInt8](repeating: 255, count: w * h)))
    let rows = try ben.query(call, [.int(f.cases[0]), .bytes(honest), .int(Int64(w)), .int(Int64(h))])
    #expect(rows.count == 1)
    // Nothing of the refused ones was stored.
    let service = try f.serviceConnection()
    #expect(try service.query("SELECT count(*) FROM blastview.mask").first?[0] == "1")
  }

  /// Through psql (the functions, not the app) and through the store, on both backends.
  @Test(arguments: Backend.all) func notesAndReasonsHaveALimit(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    try f.store(f.lead).addRater(f.judge, role: .adjudicator)
    let long = String(repeating: "x", count: TextLimits.maxBytes + 1)
    if backend == .postgres {
      let pg = try PGTestCluster.require()
      let ben = try PGConnection(pg.url(f.databaseName, as: f.ben))
      #expect(throws: StoreError.self) {
        try ben.query(
          "SELECT * FROM blastview.annotate($1, 'Pre-B', NULL, NULL, NULL, NULL, NULL, 0, $2)",
          [.int(f.cases[0]), .text(long)])
      }
      let judge = try PGConnection(pg.url(f.databaseName, as: f.judge))
      #expect(throws: StoreError.self) {
        try judge.query(
          "SELECT * FROM blastview.adjudicate($1, 'Pre-B', NULL, NULL, NULL, NULL, $2, NULL)",
          [.int(f.cases[0]), .text(long)])
      }
    }
    do {
      _ = try f.store(f.ben).annotate(
        case: f.cases[0], rater: f.ben, label: "Pre-B", mask: nil, session: nil, clear: [], note: long)
      Issue.record("a note over the limit was kept")
    } catch {
      #expect("\(error)".contains("\(TextLimits.maxBytes)"), "\(String(describing: error).prefix(300))")
    }
    #expect(throws: StoreError.self) {
      try f.reviewStore(f.judge).adjudicate(
        case: f.cases[0], adjudicator: f.judge, label: "Pre-B", mask: nil, reason: long, session: nil)
    }
    let fine = String(repeating: "y", count: TextLimits.maxBytes)
    let kept = try f.store(f.ben).annotate(
      case: f.cases[0], rater: f.ben, label: "Pre-B", mask: nil, session: nil, clear: [], note: fine)
    #expect(kept.note == fine)
  }
}
