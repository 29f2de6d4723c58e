/// Everything `blastview agree` and the review dashboard report, computed in one call.

/// What to compute besides the fixed set.
public struct AgreementOptions: Sendable, Equatable {
  /// Weights for the weighted kappa; nil = no weighted kappa.
  public var weights: AgreementWeights?
  /// Bootstrap replicates; 0 = no bootstrap.
  public var bootstrapSamples: Int
  public var seed: UInt64

  public init(weights: AgreementWeights? = nil, bootstrapSamples: Int = 0, seed: UInt64 = 1) {
    self.weights = weights
    self.bootstrapSamples = bootstrapSamples
    self.seed = seed
  }
}

/// The two-rater statistics of a pair of raters, over the items both rated.
public struct TwoRaterAgreement: Sendable, Equatable {
  /// Row rater and column rater (indices into the table's raters).
  public let a: Int
  public let b: Int
  public let confusion: ConfusionMatrix
  public let cohen: Result<KappaEstimate, Undefined>
  /// nil when no weights were asked for.
  public let weighted: Result<KappaEstimate, Undefined>?
  public let scottPi: Result<Double, Undefined>
  public let gwetAC1: Result<AC1Estimate, Undefined>
  public let pabak: Result<Double, Undefined>
  /// Per category, in the table's category order.
  public let specificAgreement: [Result<Double, Undefined>]

  public init(_ table: RatingTable, a: Int, b: Int, weights: AgreementWeights? = nil) {
    self.a = a
    self.b = b
    let table2 = table.confusion(a, b)
    confusion = table2
    cohen = cohenKappa(table2)
    weighted = weights.map { cohenKappa(table2, weights: $0, statistic: "weighted") }
    scottPi = Agreement.scottPi(table2)
    gwetAC1 = Agreement.gwetAC1(table2)
    pabak = Agreement.pabak(table2)
    specificAgreement = Agreement.specificAgreement(table2, categories: table.categories)
  }
}

/// The full agreement report of a rating table.
public struct AgreementReport: Sendable, Equatable {
  public let categories: [String]
  public let raters: [String]
  /// Items with at least one rating.
  public let nItems: Int
  public let ratingsPerRater: [Int]
  /// The two-rater statistics, present when the table has exactly two raters.
  public let twoRater: TwoRaterAgreement?
  /// Over the items every rater rated (complete data).
  public let fleiss: Result<FleissEstimate, Undefined>
  /// Items left out of Fleiss' kappa because some rater did not rate them.
  public let fleissExcludedItems: Int
  public let krippendorffNominal: Result<Double, Undefined>
  public let krippendorffOrdinal: Result<Double, Undefined>
  /// Two raters: over the items both rated (as `twoRater.gwetAC1`); more raters: Gwet's
  /// multi-rater AC1 over all items, missing ratings allowed.
  public let gwetAC1: Result<AC1Estimate, Undefined>
  public let pairwise: [PairwiseKappa]
  /// Per category: specific agreement (two raters: 2 n_kk / (n_k+ + n_+k) over the paired
  /// items; three or more: its many-rater form over the items with two or more ratings).
  /// Empty with fewer than two raters.
  public let specificAgreement: [Result<Double, Undefined>]
  public let lightsKappa: Result<Double, Undefined>
  /// Two raters: Cohen's kappa (and the weighted kappa when asked); more: Fleiss' kappa.
  /// Empty when no bootstrap was asked for.
  public let bootstrap: [BootstrapInterval]
  /// Every statistic without a value, with the reason, in report order.
  public let undefined: [Undefined]

  public init(_ table: RatingTable, options: AgreementOptions = AgreementOptions()) {
    categories = table.categories
    raters = table.raters
    let all = CategoryCounts(table)
    nItems = all.n
    ratingsPerRater = table.ratingsPerRater
    let m = table.raters.count
    var undefined: [Undefined] = []

    if m == 2 {
      let two = TwoRaterAgreement(table, a: 0, b: 1, weights: options.weights)
      twoRater = two
      gwetAC1 = two.gwetAC1
    } else {
      twoRater = nil
      gwetAC1 = m >= 2 ? Agreement.gwetAC1(all) : .failure(Undefined("gwet_ac1", singleRaterReason(m)))
      let reason =
        m < 2
        ? singleRaterReason(m)
        : "a two-rater statistic, and this report has \(m) raters: see the pairwise matrix, or choose two raters"
      for s in ["cohen", "weighted", "scott_pi", "pabak", "confusion"]
      where s != "weighted" || options.weights != nil {
        undefined.append(Undefined(s, reason))
      }
    }
    if let two = twoRater {
      undefined += failures(two.cohen) + (two.cohen.value?.undefinedParts ?? [])
      if let w = two.weighted { undefined += failures(w) + (w.value?.undefinedParts ?? []) }
      undefined += failures(two.scottPi)
    }
    undefined += failures(gwetAC1) + (gwetAC1.value?.undefinedParts ?? [])
    if let two = twoRater {
      undefined += failures(two.pabak)
      for s in two.specificAgreement { undefined += failures(s) }
    }

    let complete = CategoryCounts(table, completeOnly: true)
    fleissExcludedItems = nItems - complete.n
    if m >= 2 {
      fleiss = fleissKappa(complete)
    } else {
      fleiss = .failure(Undefined("fleiss.kappa", singleRaterReason(m)))
    }
    undefined += failures(fleiss) + (fleiss.value?.undefinedParts ?? [])

    if m >= 2 {
      krippendorffNominal = krippendorffAlpha(all, metric: .nominal)
      krippendorffOrdinal = krippendorffAlpha(all, metric: .ordinal)
    } else {
      krippendorffNominal = .failure(Undefined("krippendorff_alpha.nominal", singleRaterReason(m)))
      krippendorffOrdinal = .failure(Undefined("krippendorff_alpha.ordinal", singleRaterReason(m)))
    }
    undefined += failures(krippendorffNominal) + failures(krippendorffOrdinal)

    pairwise = pairwiseKappa(table, weights: options.weights)
    if let two = twoRater {
      specificAgreement = two.specificAgreement
    } else if m >= 3 {
      specificAgreement = Agreement.specificAgreement(all, categories: table.categories)
      for s in specificAgreement { undefined += failures(s) }
    } else {
      specificAgreement = []
    }
    for p in pairwise { undefined += failures(p.kappa) }
    lightsKappa = Agreement.lightsKappa(pairwise, raters: table.raters)
    undefined += failures(lightsKappa)

    if options.bootstrapSamples > 0 {
      if let two = twoRater {
        bootstrap = bootstrapKappa(
          two.confusion, weights: options.weights, samples: options.bootstrapSamples, seed: options.seed)
      } else if m >= 3 {
        bootstrap = [bootstrapFleiss(complete, samples: options.bootstrapSamples, seed: options.seed)]
      } else {
        bootstrap = [
          BootstrapInterval(
            statistic: "cohen.kappa", samples: options.bootstrapSamples, seed: options.seed,
            ci95: .failure(Undefined("bootstrap_ci95", singleRaterReason(m))), undefinedReplicates: 0)
        ]
      }
      for b in bootstrap { undefined += failures(b.ci95) }
    } else {
      bootstrap = []
    }
    self.undefined = undefined
  }
}

private func failures<T>(_ r: Result<T, Undefined>) -> [Undefined] {
  r.undefined.map { [$0] } ?? []
}

private func singleRaterReason(_ m: Int) -> String {
  m == 0 ? "there are no raters" : "there is a single rater; agreement needs two or more"
}
