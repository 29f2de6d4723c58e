import Imaging

/// A session's agreement inputs from the server's functions (`PGSessionAgreementV3`), which
/// blind by the connected role: reading "as" someone else is refused (`checkViewer`).
extension PostgresStore: SessionAgreementSource {
  public func agreementLabels(session: String, viewer: Viewer) throws(StoreError) -> [RaterLabel] {
    try checkViewer(viewer)
    return try connection.query("SELECT * FROM blastview.agreement_labels($1)", [.text(session)]).map {
      RaterLabel(caseID: $0.int("case_id") ?? 0, rater: $0["rater"] ?? "", label: $0["label"] ?? "")
    }
  }

  public func labelRevisions(session: String, viewer: Viewer) throws(StoreError) -> [LabelRevision] {
    try checkViewer(viewer)
    return try connection.query("SELECT * FROM blastview.label_revisions($1)", [.text(session)]).map {
      LabelRevision(
        caseID: $0.int("case_id") ?? 0, rater: $0["rater"] ?? "", blindLabel: $0["blind_label"] ?? "",
        currentLabel: $0["current_label"], revisions: Int($0.int("revisions") ?? 0))
    }
  }

  public func sessionMasks(session: String, viewer: Viewer) throws(StoreError) -> [RaterMask] {
    try checkViewer(viewer)
    return try connection.query("SELECT * FROM blastview.session_masks($1)", [.text(session)]).map {
      RaterMask(caseID: $0.int("case_id") ?? 0, rater: $0["rater"] ?? "", maskID: $0.int("mask_id") ?? 0)
    }
  }

  /// A mask the connected role may see, decoded (its SHA-256 checked by `maskPNG`).
  public func mask(id: Int64) throws(StoreError) -> Mask {
    guard let png = try maskPNG(id: id) else { throw .invalidInput("no mask with id \(id) that you may see") }
    do {
      return try decodeMask(data: png, name: "mask \(id)")
    } catch {
      throw .corrupt(path: connection.displayTarget, detail: "stored mask \(id) does not decode: \(error)")
    }
  }

  public func sessionPredictions(session: String, viewer: Viewer) throws(StoreError) -> SessionPredictions {
    try checkViewer(viewer)
    let model = try connection.query("SELECT blastview.promoted_model()").first?.int("promoted_model")
    var out = SessionPredictions(modelVersion: model, labels: [:], hidden: 0)
    for r in try connection.query("SELECT * FROM blastview.session_predictions($1)", [.text(session)]) {
      if r.bool("hidden") == true {
        out.hidden += 1
      } else if let c = r.int("case_id"), let label = r["label"] {
        out.labels[c] = label
      }
    }
    return out
  }

  public func sessionAdjudications(session: String, viewer: Viewer) throws(StoreError) -> [Int64: String] {
    try checkViewer(viewer)
    var out: [Int64: String] = [:]
    for r in try connection.query("SELECT * FROM blastview.session_adjudications($1)", [.text(session)]) {
      if let c = r.int("case_id"), let label = r["label"] { out[c] = label }
    }
    return out
  }
}
