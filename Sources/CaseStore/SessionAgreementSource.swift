import Imaging

/// What a session's agreement report reads (`Workflows.SessionAgreementReport`: the review
/// dashboard and `agree --session`), as `viewer` may see it. Both backends provide it, so the
/// report is one computation whichever store holds the session: the embedded store applies
/// the blinding in its queries, the PostgreSQL store in the server's functions.
public protocol SessionAgreementSource {
  var labelSchema: LabelSchema { get }
  func session(named name: String) throws(StoreError) -> SessionInfo
  /// One label per (case, rater): the blind one in a blinded session, else the current one.
  func agreementLabels(session: String, viewer: Viewer) throws(StoreError) -> [RaterLabel]
  /// Labels changed after the blind one (not counted).
  func labelRevisions(session: String, viewer: Viewer) throws(StoreError) -> [LabelRevision]
  /// The session's current masks.
  func sessionMasks(session: String, viewer: Viewer) throws(StoreError) -> [RaterMask]
  func mask(id: Int64) throws(StoreError) -> Mask
  /// The promoted model's labels, the hidden ones only counted.
  func sessionPredictions(session: String, viewer: Viewer) throws(StoreError) -> SessionPredictions
  /// The newest adjudicated label per session case.
  func sessionAdjudications(session: String, viewer: Viewer) throws(StoreError) -> [Int64: String]
}

extension CaseStore: SessionAgreementSource {
  public func sessionMasks(session: String, viewer: Viewer) throws(StoreError) -> [RaterMask] {
    try currentMasks(session: session, viewer: viewer)
  }
}
