import Agreement
import CaseStore
import Foundation
import Workflows

/// What a study report is made of: the session's agreement report (the numbers `agree
/// --session` prints), its adjudications and the audit chain's head at the time.
struct StudyReport {
  var report: SessionAgreementReport
  var weightsName: String?
  var adjudications: [Adjudication]
  var audit: AuditChain.Verification
  var generatedAt: String
  var workspace: String
}

/// The study report as one self-contained HTML page (issue 18, item 11): no script, no link,
/// no external asset; plots are SVG drawn by `ReportPlots` and inlined as `data:` URIs; every
/// text is escaped (`HTMLText`). The numbers are the ones in `report.json`'s `agreement`,
/// which is `agree --session --json`.
enum StudyReportHTML {
  static func render(_ s: StudyReport) -> String {
    let e = HTMLText.escape
    let f = { (x: Double?) in HTMLText.fixed(x) }
    let r = s.report
    let l = r.labels
    let info = r.session
    var h = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8">
      <meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
      <title>Study report: session \(e(info.name))</title>
      <style>
      body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;color:#111;background:#fff;max-width:980px;margin:24px auto;padding:0 16px;line-height:1.4}
      h1{font-size:1.6em;margin-bottom:4px}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:2px;margin-top:28px}
      table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #bbb;padding:3px 8px;text-align:left}
      th{background:#eef1f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
      .meta{color:#333}.note{color:#333;font-size:.92em}code{background:#f3f3f3;padding:0 3px}
      img{max-width:100%;height:auto;display:block;margin:8px 0}
      </style></head><body>

      """
    h += "<h1>Study report: session \(e(info.name))</h1>\n"
    h +=
      "<p class=\"meta\">Generated \(e(s.generatedAt)) from workspace <code>\(e(s.workspace))</code>, read as "
      + "\(e(r.readAs ?? "the system (everything)")). Session created by \(e(info.createdBy)); "
      + (info.blinded ? "blinded" : "not blinded") + (info.hideModel ? ", model hidden from raters" : "")
      + "; " + (info.isOpen ? "open" : "closed") + ".</p>\n"
    h +=
      "<p class=\"meta\">Audit chain head: <code>\(e(s.audit.head))</code> over \(s.audit.links) links, "
      + (s.audit.ok
        ? "verified intact."
        : "<strong>broken</strong> at \(e(s.audit.firstBreak?.description ?? "?")).") + "</p>\n"

    // Raters and progress.
    h +=
      "<h2>Raters and progress</h2>\n<table><tr><th>rater</th><th>cases labelled</th><th>of</th><th>share</th></tr>\n"
    for name in info.raters {
      let n = info.labelled[name] ?? 0
      let share = info.caseCount == 0 ? nil : Double(n) / Double(info.caseCount)
      h +=
        "<tr><td>\(e(name))</td><td class=\"n\">\(n)</td><td class=\"n\">\(info.caseCount)</td>"
        + "<td class=\"n\">\(share.map { String(format: "%.0f%%", $0 * 100) } ?? "–")</td></tr>\n"
    }
    h +=
      "</table>\n<p class=\"note\">\(r.visibleCases) of \(info.caseCount) cases have a label; the statistics "
      + "count \(info.blinded ? "each rater's label given blind" : "each rater's current label").</p>\n"

    // Kappa family.
    h += "<h2>Agreement between raters</h2>\n"
    h +=
      "<p class=\"meta\">\(l.raters.count) raters (\(l.raters.map(e).joined(separator: ", "))), \(l.nItems) "
      + "cases with a label, categories in this order: \(l.categories.map(e).joined(separator: ", ")).</p>\n"
    let rows = kappaRows(l, weightsName: s.weightsName)
    let plotted = rows.compactMap { row -> ReportPlots.ForestRow? in
      guard let v = row.value else { return nil }
      return ReportPlots.ForestRow(label: row.name, estimate: v, ci: row.ci, n: row.n)
    }
    h += image(
      ReportPlots.forest(plotted, title: "Agreement coefficients with 95% confidence intervals"),
      alt: "Forest plot of the agreement coefficients")
    h += "<table><tr><th>statistic</th><th>estimate</th><th>95% CI</th><th>n</th><th>reading</th></tr>\n"
    for row in rows {
      if let v = row.value {
        h +=
          "<tr><td>\(e(row.name))</td><td class=\"n\">\(f(v))</td><td class=\"n\">"
          + (row.ci.map { "\(f($0.lower)) to \(f($0.upper))" } ?? "–") + "</td><td class=\"n\">\(row.n)</td>"
          + "<td>\(e(LandisKoch(v).phrase))</td></tr>\n"
      } else {
        h += "<tr><td>\(e(row.name))</td><td colspan=\"4\">undefined: \(e(row.undefined ?? ""))</td></tr>\n"
      }
    }
    h +=
      "</table>\n<p class=\"note\">Readings after Landis and Koch (1977). "
      + (s.weightsName.map { "The weighted kappa uses the \(e($0)) weights. " } ?? "")
      + "CIs are the statistics' own (asymptotic) intervals; Scott's π, PABAK and Krippendorff's α have none here.</p>\n"

    // Confusion matrices.
    h += "<h2>Confusion matrix</h2>\n"
    if l.pairwise.isEmpty {
      h += "<p>Fewer than two raters have labels: no confusion matrix.</p>\n"
    }
    for p in l.pairwise {
      let a = l.raters[p.a]
      let b = l.raters[p.b]
      h += image(
        ReportPlots.heatmap(
          p.confusion, categories: l.categories, rowTitle: a, columnTitle: b, title: "\(a) against \(b)"),
        alt: "Confusion matrix heatmap of \(a) against \(b)")
    }

    // Per-class agreement.
    h += "<h2>Agreement per class</h2>\n<table><tr><th>class</th><th>specific agreement</th></tr>\n"
    for (c, v) in zip(l.categories, l.specificAgreement) {
      h += "<tr><td>\(e(c))</td><td class=\"n\">\(v.value.map { f($0) } ?? "undefined")</td></tr>\n"
    }
    h +=
      "</table>\n<p class=\"note\">Specific agreement of a class: of the ratings of that class, the share "
      + "matched by the other rater's (2·n<sub>kk</sub> / (n<sub>k+</sub> + n<sub>+k</sub>) for two raters).</p>\n"

    // Revisions.
    h += "<h2>Revisions after unblinding</h2>\n"
    if !info.blinded {
      h += "<p>The session is not blinded: every label counts as it stands.</p>\n"
    } else if r.revisions.isEmpty {
      h += "<p>None: no rater changed a label after their blind one.</p>\n"
    } else {
      h +=
        "<table><tr><th>case</th><th>rater</th><th>blind label (counted)</th><th>current label</th>"
        + "<th>changes</th></tr>\n"
      for x in r.revisions {
        h +=
          "<tr><td class=\"n\">\(x.caseID)</td><td>\(e(x.rater))</td><td>\(e(x.blindLabel))</td>"
          + "<td>\(e(x.currentLabel ?? "(cleared)"))</td><td class=\"n\">\(x.revisions)</td></tr>\n"
      }
      h += "</table>\n"
    }

    // Masks.
    h += "<h2>Mask agreement</h2>\n"
    if r.masks.isEmpty { h += "<p>No pair of raters.</p>\n" }
    if !r.masks.isEmpty {
      h +=
        "<table><tr><th>raters</th><th>cases drawn by both</th><th>only first</th><th>only second</th>"
        + "<th>pooled Dice</th><th>pooled IoU</th><th>mean Dice</th><th>mean IoU</th></tr>\n"
      for m in r.masks {
        let t = m.summary
        h +=
          "<tr><td>\(e(m.a)) / \(e(m.b))</td><td class=\"n\">\(m.cases.count)</td><td class=\"n\">\(m.onlyA)</td>"
          + "<td class=\"n\">\(m.onlyB)</td><td class=\"n\">\(f(t.pooledDice.value))</td>"
          + "<td class=\"n\">\(f(t.pooledIoU.value))</td><td class=\"n\">\(f(t.meanDice.value.value))</td>"
          + "<td class=\"n\">\(f(t.meanIoU.value.value))</td></tr>\n"
      }
      h += "</table>\n"
    }

    // Model.
    h += "<h2>Model against the consensus</h2>\n"
    if let m = r.model, let version = m.modelVersion {
      h +=
        "<p>Model v\(version): \(m.n) cases with a consensus and a prediction (no consensus \(m.noConsensus), "
        + "no prediction \(m.withoutPrediction), prediction hidden \(m.hiddenPredictions), consensus "
        + "adjudicated \(m.adjudicated)).</p>\n"
      if let c = m.report {
        h += "<p>Accuracy \(f(c.accuracy)), kappa \(f(c.kappa.value)), macro F1 \(f(c.macro.f1)).</p>\n"
        h +=
          "<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>specificity</th>"
          + "<th>NPV</th><th>support</th></tr>\n"
        for cls in c.classes {
          guard let x = c.perClass[cls] else { continue }
          h +=
            "<tr><td>\(e(cls))</td><td class=\"n\">\(f(x.precision))</td><td class=\"n\">\(f(x.recall))</td>"
            + "<td class=\"n\">\(f(x.f1))</td><td class=\"n\">\(f(x.specificity))</td><td class=\"n\">\(f(x.npv))</td>"
            + "<td class=\"n\">\(x.support)</td></tr>\n"
        }
        h += "</table>\n"
        h += image(
          ReportPlots.heatmap(
            c.matrix, categories: c.classes, rowTitle: "consensus", columnTitle: "model v\(version)",
            title: "Consensus against model v\(version)"),
          alt: "Confusion matrix heatmap of the consensus against the model")
      }
      h +=
        "<p class=\"note\">The consensus is the adjudicated label, else the label of a strict majority of two "
        + "or more raters.</p>\n"
    } else if r.model == nil {
      h += "<p>Not computed.</p>\n"
    } else {
      h += "<p>No model is promoted.</p>\n"
    }

    // Adjudications.
    h += "<h2>Adjudications</h2>\n"
    if s.adjudications.isEmpty {
      h += "<p>None of the session's cases has been adjudicated.</p>\n"
    } else {
      h +=
        "<table><tr><th>case</th><th>final label</th><th>adjudicator</th><th>reason</th><th>when</th></tr>\n"
      for a in s.adjudications {
        h +=
          "<tr><td class=\"n\">\(a.caseID)</td><td>\(e(a.label))</td><td>\(e(a.adjudicator))</td>"
          + "<td>\(e(a.reason))</td><td>\(e(CaseStore.timestamp(a.createdAt)))</td></tr>\n"
      }
      h += "</table>\n"
    }
    h +=
      "<p class=\"note\">The same numbers, for scripts: <code>report.json</code> beside this file "
      + "(its <code>agreement</code> is what <code>blastview agree --session \(e(info.name)) --json</code> prints).</p>\n"
    return h + "</body></html>\n"
  }

  /// One line of the coefficient table and forest plot.
  struct KappaRow {
    var name: String
    var value: Double?
    var ci: Interval?
    var n: Int
    var undefined: String?
  }

  /// The kappa family as `agree` reports it: Cohen's (and weighted) kappa, Scott's π and PABAK
  /// for two raters; Fleiss' kappa, Gwet's AC1 and Krippendorff's α for any number; pairwise
  /// and Light's kappa for three or more.
  static func kappaRows(_ l: AgreementReport, weightsName: String?) -> [KappaRow] {
    var rows: [KappaRow] = []
    func add<T>(_ name: String, _ r: Result<T, Undefined>, n: Int, _ get: (T) -> (Double, Interval?)) {
      switch r {
      case .success(let v):
        let (x, ci) = get(v)
        rows.append(KappaRow(name: name, value: x, ci: ci, n: n))
      case .failure(let u): rows.append(KappaRow(name: name, value: nil, ci: nil, n: n, undefined: u.reason))
      }
    }
    if let two = l.twoRater {
      let n = two.confusion.n
      add("Cohen's κ", two.cohen, n: n) { ($0.kappa, $0.ci95) }
      if let w = two.weighted {
        add("Weighted κ (\(weightsName ?? "weights"))", w, n: n) { ($0.kappa, $0.ci95) }
      }
      add("Scott's π", two.scottPi, n: n) { ($0, nil) }
      add("PABAK", two.pabak, n: n) { ($0, nil) }
    }
    add("Fleiss' κ", l.fleiss, n: l.fleiss.value?.n ?? 0) { ($0.kappa, $0.ci95) }
    add("Gwet's AC1", l.gwetAC1, n: l.gwetAC1.value?.n ?? 0) { ($0.ac1, $0.ci95) }
    add("Krippendorff's α (nominal)", l.krippendorffNominal, n: l.nItems) { ($0, nil) }
    add("Krippendorff's α (ordinal)", l.krippendorffOrdinal, n: l.nItems) { ($0, nil) }
    if l.raters.count > 2 {
      add("Light's κ", l.lightsKappa, n: l.nItems) { ($0, nil) }
      for p in l.pairwise {
        add("κ \(l.raters[p.a]) / \(l.raters[p.b])", p.cohen, n: p.n) { ($0.kappa, $0.ci95) }
      }
    }
    return rows
  }

  /// An SVG as an inline image: a `data:` URI, so the page needs no other file.
  static func image(_ svg: String, alt: String) -> String {
    let data = Data(svg.utf8).base64EncodedString()
    return "<img alt=\"\(HTMLText.escape(alt))\" src=\"data:image/svg+xml;base64,\(data)\">\n"
  }
}
