import CaseStore
import Foundation
import Imaging
import Workflows

/// The effects of agreement sessions, live refresh, triage, adjudication and the case view's
/// overlays. One case of `Effect` (`.sessions`) carries them, so these screens add to the
/// central enums in one line each.
public enum SessionEffect: Equatable, Sendable {
  /// Reload the session's progress (labelled per rater, open or closed).
  case loadSession
  /// Ask the store whether another process committed (`externalChangeVersion`).
  case pollChanges
  /// Compute the session's agreement report (the dashboard).
  case loadDashboard
  /// Close the session (its creator only; the store checks).
  case closeSession
  case loadTriage(confidenceBelow: Double)
  /// Load a case with every rater's label and mask and the model's, to adjudicate.
  case loadAdjudication(caseID: Int64)
  case adjudicate(caseID: Int64, label: String, mask: Mask?, reason: String)
  /// Load the masks the case view's overlays may draw.
  case loadOverlayMasks(caseID: Int64)
  /// The workspace's sessions, for the picker `A` opens outside a session.
  case loadSessionList
  /// Work in this session from now on (the store checks that I may).
  case switchSession(String)
}

/// Results of `SessionEffect`s.
public enum SessionEvent: Equatable, Sendable {
  case sessionLoaded(SessionInfo)
  case changesPolled(version: Int)
  /// My role, as the store has it now (read again before adjudicating: a lead may have
  /// changed it while the app runs).
  case roleLoaded(RaterRole)
  /// The store's role for me is not adjudicator: the adjudication screen does not open.
  case adjudicationRefused(RaterRole)
  case dashboardLoaded(SessionAgreementReport, at: Date)
  case sessionClosed(SessionInfo)
  case triageLoaded([TriageItem], confidenceBelow: Double)
  case adjudicationLoaded(AdjudicationCase)
  case adjudicated(Adjudication)
  case overlayMasksLoaded(caseID: Int64, masks: [OverlayMask])
  case sessionListLoaded([SessionInfo])
  /// Now working in this session; `advance`: its setting for moving on after a label.
  case sessionSwitched(SessionInfo, advance: Bool)
}

/// The keys of these screens (see `KeyMap+Sessions.swift`).
public enum SessionAction: Equatable, Hashable, Sendable {
  case openDashboard, openTriage
  /// Dashboard: close the session (asks for confirmation), next rater pair of the heatmap.
  case closeSession, nextPair
  /// Triage: change the low-confidence threshold.
  case lowerThreshold, raiseThreshold
  /// Adjudication: choose the rater or model tile, take its mask, edit a new mask, no mask,
  /// type the reason, record.
  case takeMask, editFinalMask, noFinalMask, editReason, record
  /// Case view overlays.
  case toggleModelMask, toggleMyMask, cycleOtherMasks
}

/// One mask the case view can overlay: the model's (`model`), mine (`mine`) or a rater's
/// (`rater:NAME`).
public struct OverlayMask: Equatable, Sendable {
  public var owner: String
  public var maskID: Int64
  public var mask: Mask
  public init(owner: String, maskID: Int64, mask: Mask) {
    self.owner = owner
    self.maskID = maskID
    self.mask = mask
  }
}
