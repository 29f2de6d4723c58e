import Agreement
import Foundation
import Terminal

/// The `agree` report as JSON (keys fixed by issue 6, so other tools can rely on them) and
/// as readable text.
enum AgreeReport {
  // MARK: JSON

  static func json(_ r: AgreementReport, options: AgreementOptions) -> JSONOutput {
    let two = r.twoRater
    var fields: [(String, JSONOutput)] = [
      ("n_items", .int(r.nItems)),
      ("raters", .array(r.raters.map { .string($0) })),
      ("categories", .array(r.categories.map { .string($0) })),
      ("ratings_per_rater", .array(r.ratingsPerRater.map { .int($0) })),
      ("n_paired", two.map { .int($0.confusion.n) } ?? .null),
      ("cohen", kappaJSON(two?.cohen, weights: nil)),
      ("weighted", options.weights.map { w in kappaJSON(two?.weighted, weights: w.name) } ?? .null),
      ("scott_pi", .number(two?.scottPi.value)),
      ("gwet_ac1", .number(r.gwetAC1.value?.ac1)),
      ("gwet_ac1_se", .number(r.gwetAC1.value?.se)),
      ("gwet_ac1_ci95", .interval(r.gwetAC1.value?.ci95)),
      ("pabak", .number(two?.pabak.value)),
      (
        "specific_agreement",
        r.specificAgreement.isEmpty
          ? .null : .object(zip(r.categories, r.specificAgreement).map { ($0, .number($1.value)) })
      ),
    ]
    let f = r.fleiss.value
    fields.append(
      (
        "fleiss",
        .object([
          ("kappa", .number(f?.kappa)), ("se", .number(f?.se)), ("se0", .number(f?.se0)),
          ("z", .number(f?.z)), ("ci95", .interval(f?.ci95)), ("po", .number(f?.po)),
          ("pe", .number(f?.pe)), ("n_items", .int(f?.n ?? 0)),
          ("excluded_items", .int(r.fleissExcludedItems)),
        ])
      ))
    fields.append(
      (
        "krippendorff_alpha",
        .object([
          ("nominal", .number(r.krippendorffNominal.value)),
          ("ordinal", .number(r.krippendorffOrdinal.value)),
        ])
      ))
    fields.append(
      (
        "pairwise",
        .array(
          r.pairwise.map { p in
            .object([
              ("a", .string(r.raters[p.a])), ("b", .string(r.raters[p.b])), ("n", .int(p.n)),
              ("kappa", .number(p.kappa.value)), ("se", .number(p.cohen.value?.se)),
              ("ci95", .interval(p.cohen.value?.ci95)),
              ("weighted_kappa", .number(p.weighted?.value?.kappa)),
              ("weighted_ci95", .interval(p.weighted?.value?.ci95)),
              (
                "matrix",
                .array(
                  (0..<p.confusion.k).map { i in .array((0..<p.confusion.k).map { .int(p.confusion[i, $0]) })
                  })
              ),
            ])
          })
      ))
    fields.append(("lights_kappa", .number(r.lightsKappa.value)))
    fields.append(
      (
        "confusion",
        two.map { t in
          .object([
            ("rows", .string(r.raters[t.a])), ("cols", .string(r.raters[t.b])),
            (
              "matrix",
              .array(
                (0..<t.confusion.k).map { i in
                  .array((0..<t.confusion.k).map { .int(t.confusion[i, $0]) })
                })
            ),
          ])
        } ?? .null
      ))
    fields.append(("bootstrap_ci95", .interval(r.bootstrap.first?.ci95.value)))
    fields.append(
      (
        "bootstrap",
        .array(
          r.bootstrap.map { b in
            .object([
              ("statistic", .string(b.statistic)), ("samples", .int(b.samples)),
              ("seed", .uint(b.seed)), ("ci95", .interval(b.ci95.value)),
              ("undefined_replicates", .int(b.undefinedReplicates)),
            ])
          })
      ))
    fields.append(
      (
        "undefined",
        .array(
          r.undefined.map { u in
            .object([("statistic", .string(u.statistic)), ("reason", .string(u.reason))])
          })
      ))
    return .object(fields)
  }

  private static func kappaJSON(_ k: Result<KappaEstimate, Undefined>?, weights: String?) -> JSONOutput {
    let e = k?.value
    var o: [(String, JSONOutput)] = []
    if let weights { o.append(("weights", .string(weights))) }
    o += [
      ("kappa", .number(e?.kappa)), ("se", .number(e?.se)), ("se0", .number(e?.se0)),
      ("z", .number(e?.z)), ("ci95", .interval(e?.ci95)), ("po", .number(e?.po)), ("pe", .number(e?.pe)),
    ]
    return .object(o)
  }

  // MARK: Text

  static func text(_ r: AgreementReport, options: AgreementOptions, source: String) -> String {
    let safe = Sanitizer.sanitize(_:)
    let f = { (x: Double) in AgreeOutput.fixed(x) }
    let raters = r.raters.map(safe)
    let categories = r.categories.map(safe)
    var out: [String] = []
    out.append("Agreement: \(safe(source))")
    out.append(
      "\(r.raters.count) rater\(r.raters.count == 1 ? "" : "s") (\(raters.joined(separator: ", "))), "
        + "\(r.nItems) item\(r.nItems == 1 ? "" : "s") with a rating, \(r.categories.count) categories in this order: "
        + categories.joined(separator: ", "))
    out.append(
      "Ratings per rater: "
        + zip(raters, r.ratingsPerRater).map { "\($0) \($1)" }.joined(separator: ", "))

    if let two = r.twoRater {
      let a = raters[two.a]
      let b = raters[two.b]
      out.append("")
      out.append("Confusion matrix: rows \(a), columns \(b); \(two.confusion.n) items rated by both")
      out += confusionTable(two.confusion, categories: categories)
      out.append("")
      out.append(kappaLines("Cohen's kappa", two.cohen))
      if let w = two.weighted, let weights = options.weights {
        out.append(kappaLines("Weighted kappa (\(weights.name) weights)", w))
        out.append("  agreement weights (1 = full credit, 0 = none):")
        out += weightTable(weights, categories: categories).map { "  " + $0 }
      }
      out.append(line("Scott's pi", two.scottPi.map { f($0) }))
      out.append(ac1Line(two.gwetAC1))
      out.append(line("PABAK", two.pabak.map { f($0) }))
      out.append(
        "Specific agreement (2·n_kk / (n_k+ + n_+k)): "
          + zip(categories, two.specificAgreement).map { c, v in
            "\(c) \(v.value.map { f($0) } ?? "undefined")"
          }
          .joined(separator: ", "))
    } else if r.raters.count >= 3 {
      out.append("")
      out.append(ac1Line(r.gwetAC1))
    }

    if r.raters.count >= 2 {
      out.append("")
      switch r.fleiss {
      case .success(let e):
        var s = "Fleiss' kappa        \(f(e.kappa))"
        if let ci = e.ci95, let se = e.se { s += "  (95% CI \(f(ci.lower)) to \(f(ci.upper)); SE \(f(se)))" }
        s += ", \(LandisKoch(e.kappa).phrase)"
        out.append(s)
        var detail = "  over the \(e.n) items every rater rated"
        if r.fleissExcludedItems > 0 {
          detail += " (\(r.fleissExcludedItems) with a missing rating left out)"
        }
        if let z = e.z, let se0 = e.se0 {
          detail += "; z = \(AgreeOutput.fixed(z, 2)) (SE under H0 \(f(se0)))"
        }
        out.append(detail)
      case .failure(let u):
        out.append("Fleiss' kappa        undefined: \(safe(u.reason))")
      }
      out.append(
        "Krippendorff's alpha nominal \(r.krippendorffNominal.value.map { f($0) } ?? "undefined"), "
          + "ordinal \(r.krippendorffOrdinal.value.map { f($0) } ?? "undefined") "
          + "(ordinal ranks the categories in the order above)")
    }
    if r.raters.count >= 3 {
      out.append("")
      out.append("Pairwise Cohen's kappa (items both rated):")
      out += pairwiseTable(r, raters: raters)
      func brief(_ e: Result<KappaEstimate, Undefined>) -> String {
        switch e {
        case .success(let k): return "\(f(k.kappa)) (95% CI \(f(k.ci95.lower)) to \(f(k.ci95.upper)))"
        case .failure(let u): return "undefined: \(safe(u.reason))"
        }
      }
      for p in r.pairwise {
        var s = "  \(raters[p.a]) and \(raters[p.b]), \(p.n) items: kappa \(brief(p.cohen))"
        if let w = p.weighted, let weights = options.weights { s += "; \(weights.name) \(brief(w))" }
        out.append(s)
      }
      out.append(line("Light's kappa (mean of the pairs)", r.lightsKappa.map { f($0) }))
      out.append(
        "Specific agreement (Σ n_ik(n_ik - 1) / Σ n_ik(n_i - 1)): "
          + zip(categories, r.specificAgreement).map { c, v in "\(c) \(v.value.map { f($0) } ?? "undefined")"
          }
          .joined(separator: ", "))
    }
    out += bootstrapLines(r)
    out += undefinedLines(r)
    out.append("")
    out.append(
      "\(LandisKoch.scaleName): "
        + LandisKoch.allCases.map { "\($0.range) \($0.rawValue)" }.joined(separator: ", ") + ".")
    return out.joined(separator: "\n") + "\n"
  }

  /// The bootstrap confidence intervals, one line per statistic (none without --bootstrap).
  private static func bootstrapLines(_ r: AgreementReport) -> [String] {
    let safe = Sanitizer.sanitize(_:)
    let f = { (x: Double) in AgreeOutput.fixed(x) }
    var out: [String] = []
    if !r.bootstrap.isEmpty {
      out.append("")
      for b in r.bootstrap {
        let name = b.statistic.replacingOccurrences(of: ".kappa", with: "")
        let label =
          name == "cohen" ? "Cohen's kappa" : name == "weighted" ? "weighted kappa" : "Fleiss' kappa"
        var s = "Bootstrap (\(b.samples) resamples of the items, seed \(b.seed)): \(label) "
        switch b.ci95 {
        case .success(let ci): s += "95% CI \(f(ci.lower)) to \(f(ci.upper))"
        case .failure(let u): s += "undefined: \(safe(u.reason))"
        }
        if b.undefinedReplicates > 0 { s += " (\(b.undefinedReplicates) resamples had no defined value)" }
        out.append(s)
      }
    }
    return out
  }

  /// The statistics that are undefined, grouped by reason in first-seen order.
  private static func undefinedLines(_ r: AgreementReport) -> [String] {
    let safe = Sanitizer.sanitize(_:)
    var out: [String] = []
    if !r.undefined.isEmpty {
      out.append("")
      out.append("Undefined:")
      // Statistics undefined for the same reason share a line.
      var reasons: [String] = []
      var names: [String: [String]] = [:]
      for u in r.undefined {
        if names[u.reason] == nil { reasons.append(u.reason) }
        names[u.reason, default: []].append(u.statistic)
      }
      for reason in reasons {
        out.append("  \(names[reason]!.map(safe).joined(separator: ", ")): \(safe(reason))")
      }
    }
    return out
  }

  private static func line(_ name: String, _ value: Result<String, Undefined>) -> String {
    let padded = name.padding(toLength: max(name.count, 20), withPad: " ", startingAt: 0)
    switch value {
    case .success(let v): return "\(padded) \(v)"
    case .failure(let u): return "\(padded) undefined: \(Sanitizer.sanitize(u.reason))"
    }
  }

  private static func ac1Line(_ r: Result<AC1Estimate, Undefined>) -> String {
    line(
      "Gwet's AC1",
      r.map { e in
        var s = AgreeOutput.fixed(e.ac1)
        if let ci = e.ci95, let se = e.se {
          s +=
            "  (95% CI \(AgreeOutput.fixed(ci.lower)) to \(AgreeOutput.fixed(ci.upper)); SE \(AgreeOutput.fixed(se)))"
        }
        return s
      })
  }

  /// "Cohen's kappa 0.712 (95% CI ...)" and a sentence in Landis & Koch's words.
  private static func kappaLines(_ name: String, _ r: Result<KappaEstimate, Undefined>) -> String {
    let f = { (x: Double) in AgreeOutput.fixed(x) }
    switch r {
    case .failure(let u):
      return line(name, .failure(u))
    case .success(let e):
      var s = line(
        name, .success("\(f(e.kappa))  (95% CI \(f(e.ci95.lower)) to \(f(e.ci95.upper)); SE \(f(e.se)))"))
      let band = LandisKoch(e.kappa)
      s += "\n  \(band.phrase) on the \(LandisKoch.scaleName)"
      let lo = LandisKoch(e.ci95.lower)
      let hi = LandisKoch(min(e.ci95.upper, 1))
      if lo != hi { s += "; the interval spans \(lo.rawValue) to \(hi.rawValue) agreement" }
      s += "\n  observed agreement p_o \(f(e.po)), chance agreement p_e \(f(e.pe))"
      if let z = e.z, let se0 = e.se0 {
        s += "; z = \(AgreeOutput.fixed(z, 2)) (SE under H0 \(f(se0)))"
      } else {
        s += "; no z (the SE under H0 is 0)"
      }
      return s
    }
  }

  private static func confusionTable(_ m: ConfusionMatrix, categories: [String]) -> [String] {
    let rows = m.rowTotals
    let cols = m.columnTotals
    var grid: [[String]] = [[""] + categories + ["total"]]
    for i in 0..<m.k { grid.append([categories[i]] + (0..<m.k).map { String(m[i, $0]) } + [String(rows[i])]) }
    grid.append(["total"] + cols.map(String.init) + [String(m.n)])
    return alignedTable(grid)
  }

  private static func weightTable(_ w: AgreementWeights, categories: [String]) -> [String] {
    var grid: [[String]] = [[""] + categories]
    for i in 0..<w.k {
      grid.append([categories[i]] + (0..<w.k).map { AgreeOutput.fixed(w[i, $0], 2) })
    }
    return alignedTable(grid)
  }

  private static func pairwiseTable(_ r: AgreementReport, raters: [String]) -> [String] {
    let m = raters.count
    var grid: [[String]] = [[""] + raters]
    for a in 0..<m {
      var row = [raters[a]]
      for b in 0..<m {
        if a == b {
          row.append("-")
        } else if let p = r.pairwise.first(where: { ($0.a, $0.b) == (min(a, b), max(a, b)) }) {
          row.append(p.kappa.value.map { AgreeOutput.fixed($0) } ?? "undef.")
        } else {
          row.append("")
        }
      }
      grid.append(row)
    }
    return alignedTable(grid)
  }

  /// Right-aligned columns after a left-aligned first column, two spaces apart.
  static func alignedTable(_ grid: [[String]]) -> [String] {
    let columns = grid.map(\.count).max() ?? 0
    var widths = [Int](repeating: 0, count: columns)
    for row in grid { for (j, cell) in row.enumerated() { widths[j] = max(widths[j], cell.count) } }
    return grid.map { row in
      "  "
        + row.enumerated().map { j, cell in
          let pad = String(repeating: " ", count: widths[j] - cell.count)
          return j == 0 ? cell + pad : pad + cell
        }.joined(separator: "  ")
    }
  }
}
