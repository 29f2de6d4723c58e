import Agreement
import CaseStore
import Imaging

/// What can stop a session's agreement report: the store, or data the statistics cannot take
/// (a rater who is not in the session, a label outside the categories).
public enum SessionAgreementError: Error, Sendable, Equatable, CustomStringConvertible {
  case store(StoreError)
  case input(String)

  public var description: String {
    switch self {
    case .store(let e): return e.description
    case .input(let m): return m
    }
  }
}

/// What to compute for a session.
public struct SessionAgreementOptions: Sendable, Equatable {
  /// The raters to compare, in this order (the first is the rows of confusion matrices);
  /// nil: the session's raters.
  public var raters: [String]?
  /// The category order; nil: the workspace's label schema.
  public var categories: [String]?
  /// Weights of the weighted kappa; nil: none.
  public var weights: AgreementWeights?
  public var bootstrapSamples: Int
  public var seed: UInt64
  /// Mask agreement between every pair of raters (decodes masks; the dashboard caches them).
  public var masks: Bool
  /// Nuclei are the pixels at or above this, `connectivity`-connected.
  public var maskThreshold: UInt8
  public var connectivity: Connectivity
  /// The promoted model against the consensus label.
  public var model: Bool

  public init(
    raters: [String]? = nil, categories: [String]? = nil, weights: AgreementWeights? = nil,
    bootstrapSamples: Int = 0, seed: UInt64 = 1, masks: Bool = true, maskThreshold: UInt8 = 128,
    connectivity: Connectivity = .eight, model: Bool = true
  ) {
    self.raters = raters
    self.categories = categories
    self.weights = weights
    self.bootstrapSamples = bootstrapSamples
    self.seed = seed
    self.masks = masks
    self.maskThreshold = maskThreshold
    self.connectivity = connectivity
    self.model = model
  }

  /// The weights the review dashboard uses: the clinical matrix when the categories are the
  /// `all4` classes (benign against malignant earns nothing, subtypes by maturation), none
  /// otherwise (a flat schema has no order to weight by).
  public static func dashboardWeights(categories: [String]) -> AgreementWeights? {
    try? AgreementWeights.clinical(categories: categories)
  }
}

/// Everything the agreement dashboard shows and `blastview agree --session --json` prints,
/// computed by one function so the two can never disagree (issue 8): the label statistics
/// (`Agreement.AgreementReport`), mask agreement between every pair of raters, and the
/// promoted model against the consensus label. Read as `viewer` sees the session: a blinded
/// rater gets other raters' labels and masks only on cases they labelled themselves, and no
/// prediction the session hides from them, so the numbers reveal nothing the blinding hides.
/// In a blinded session the labels counted are the ones given blind; revisions made after
/// unblinding are reported apart (`revisions`, `revisionsByRater`).
public struct SessionAgreementReport: Sendable, Equatable {
  public let session: SessionInfo
  /// The rater the session was read as (nil: the system, which sees everything).
  public let readAs: String?
  public let options: SessionAgreementOptions
  /// The label statistics over the visible labels.
  public let labels: AgreementReport
  /// Session cases with at least one visible label.
  public let visibleCases: Int
  /// In a blinded session the statistics count each rater's blind label (issue 15, item 9);
  /// the labels changed afterwards, after seeing the others, are listed here.
  public let revisions: [LabelRevision]
  /// One per pair of raters (in the order of `labels.raters`), when masks were asked for.
  public let masks: [MaskPairAgreement]
  /// nil when the model was not asked for.
  public let model: ModelAgreement?

  /// Per rater with revisions: how many label changes they made after their blind label,
  /// and on how many cases, sorted by name.
  public var revisionsByRater: [(rater: String, revisions: Int, cases: Int)] {
    var by: [String: (Int, Int)] = [:]
    for r in revisions {
      by[r.rater, default: (0, 0)].0 += r.revisions
      by[r.rater, default: (0, 0)].1 += 1
    }
    return by.keys.sorted().map { ($0, by[$0]!.0, by[$0]!.1) }
  }

  /// Reads the session from the store and computes the report. `cache` keeps mask
  /// comparisons between calls (the dashboard recomputes on every change another rater
  /// makes, and masks rarely change).
  public static func compute(
    store: CaseStore, session name: String, viewer: Viewer, options: SessionAgreementOptions = .init(),
    cache: MaskAgreementCache? = nil
  ) throws(SessionAgreementError) -> SessionAgreementReport {
    let info: SessionInfo
    let rows: [RaterLabel]
    let revisions: [LabelRevision]
    do {
      info = try store.session(named: name)
      rows = try store.agreementLabels(session: name, viewer: viewer)
      revisions = try store.labelRevisions(session: name, viewer: viewer)
    } catch {
      throw .store(error)
    }
    let raters = options.raters ?? info.raters
    for r in raters where !info.raters.contains(r) {
      throw .input(
        "rater '\(r)' is not in session '\(name)' (its raters: \(info.raters.joined(separator: ", ")))")
    }
    let categories = options.categories ?? store.labelSchema.classNames
    let long = rows.map { LongRating(item: "case \($0.caseID)", rater: $0.rater, label: $0.label) }
    let table: RatingTable
    do {
      table = try RatingTable(long: long, categories: categories, raters: raters)
    } catch {
      if case .unknownLabel(let row, let label, let cats) = error {
        throw .input(
          "case \(rows[row].caseID), rater '\(rows[row].rater)': label '\(label)' is not one of the "
            + "categories " + cats.joined(separator: ", "))
      }
      throw .input("session '\(name)': \(error)")
    }
    let report = AgreementReport(
      table,
      options: AgreementOptions(
        weights: options.weights, bootstrapSamples: options.bootstrapSamples, seed: options.seed))
    var masks: [MaskPairAgreement] = []
    if options.masks {
      let rows: [RaterMask]
      do { rows = try store.currentMasks(session: name, viewer: viewer) } catch { throw .store(error) }
      for p in report.pairwise {
        masks.append(
          try MaskPairAgreement.compute(
            store: store, rows: rows, a: raters[p.a], b: raters[p.b], threshold: options.maskThreshold,
            connectivity: options.connectivity, cache: cache))
      }
    }
    var model: ModelAgreement? = nil
    if options.model {
      model = try ModelAgreement.compute(
        store: store, session: name, viewer: viewer, labels: rows, categories: categories)
    }
    return SessionAgreementReport(
      session: info, readAs: viewer.rater, options: options, labels: report,
      visibleCases: Set(rows.map(\.caseID)).count, revisions: revisions, masks: masks, model: model)
  }
}
