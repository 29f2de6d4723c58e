import CaseStore
import Foundation
import Imaging
import MTACNN
import Terminal
import Workflows

/// Runs the review app on a terminal: the only place where `update`'s effects meet the
/// database and `view`'s frames meet the screen. Effects run on this thread, in order; the
/// store's queries take milliseconds even on 100,000 cases (keyset paging), and every label
/// is committed before the status line says "Saved". The store is either backend
/// (`ReviewStore`): an embedded SQLite workspace or a shared PostgreSQL one.
public final class ReviewApp {
  let store: any ReviewStore
  /// Who reads, with which blinding: changes when the session picker switches sessions.
  var viewer: Viewer
  let rater: String
  var session: String?
  public private(set) var state: AppState
  private var pendingSignal: Int32?
  /// Mask comparisons kept between dashboard refreshes.
  let maskCache = MaskAgreementCache()
  /// How often the interactive loop ticks (polls for other processes' changes).
  public var tickInterval: TimeInterval = 1
  /// Sees every event before `update` does (tests check that no hidden data ever arrives).
  public var eventObserver: ((AppEvent) -> Void)?
  /// Starts the background trainers (`blastview train --job ID`) for `T` and predictors.
  public var launcher = ProcessLauncher()
  /// Trainers this app started and has not yet reaped.
  var trainerChildren: Set<Int32> = []
  /// Image sources for the view; keeps the scaled case image between frames.
  public let images = CaseImages()
  /// Explanations computed off the UI thread (`ReviewApp+Explanations.swift`).
  public let explanationWorker: ExplanationWorker
  /// Whether cases without a prediction from the promoted model get one from a background
  /// `blastview predict --all-cases` (on in `blastview review`; off where the launcher's
  /// executable is not `blastview`, e.g. in tests that do not set it).
  public var backgroundPredictions = false

  public init(
    store: any ReviewStore, rater: String, session: String?, rows: Int, columns: Int, graphics: Bool
  )
    throws(StoreError)
  {
    self.store = store
    self.rater = rater
    self.session = session
    viewer = Viewer.rater(rater, session: session)
    // This user's own cache folder: explanations are shown as the model's, so another user
    // of a shared workspace must not be able to plant them.
    explanationWorker = ExplanationWorker(cacheDirectory: store.workspace.userCacheDirectory)
    // A workspace made before keys were checked may bind a screen's key to a class.
    try KeyMap.checkSchemaKeys(store.labelSchema)
    let myRole = try store.enrolReviewer(rater)
    let info = try session.map { (name: String) throws(StoreError) in try store.session(named: name) }
    if let info, !info.raters.contains(rater), info.createdBy != rater, myRole != .adjudicator {
      throw StoreError.raterNotInSession(rater: rater, session: info.name)
    }
    state = AppState(
      rows: rows, columns: columns, graphics: graphics, schema: store.labelSchema, rater: rater,
      workspaceName: (store.workspace.directory as NSString).lastPathComponent, session: session,
      modelVersion: try store.promotedModelVersion(), totalCases: try store.caseCount())
    state.workspacePath = store.workspace.directory
    state.thumbnailWidth = BrowserGrid.defaultTileWidth(for: store.labelSchema)
    if session != nil { state.sort = .sessionQueue }
    state.role = myRole
    state.sessionInfo = info
    // Moving on after a label: on in a session's queue, off elsewhere, unless `N` chose.
    let advance = try store.setting(ReviewApp.advanceSetting(inSession: session != nil))
    state.advanceAfterLabel = advance.map { $0 == "on" } ?? (session != nil)
    if let style = try store.setting(ReviewApp.maskStyleSetting).flatMap(MaskOverlayStyle.init(rawValue:)) {
      state.maskStyle = style
    }
    if let t = try store.setting(ReviewApp.triageConfidenceSetting).flatMap(Double.init), t > 0, t <= 1 {
      state.triageConfidence = t
    }
    state.screening = try screeningPoint()
    screeningCheckedFor = state.modelVersion
  }

  /// The model version the screening point was last read for (once per change of version).
  private var screeningCheckedFor: Int64?

  /// Operating points by model version, read once per version from its checkpoint.
  private var operatingPoints: [Int64: OperatingPoint?] = [:]

  /// The promoted model's screening operating point (nil without a promoted model), from its
  /// checkpoint's header on either backend.
  func screeningPoint() throws(StoreError) -> ScreeningPoint? {
    guard let version = try store.promotedModelVersion() else { return nil }
    let point: OperatingPoint?
    if let cached = operatingPoints[version] {
      point = cached
    } else {
      point = try ScreeningOperatingPoint.promoted(in: store)?.point
      operatingPoints[version] = point
    }
    return ScreeningPoint(
      modelVersion: version, threshold: point?.threshold, targetSensitivity: point?.targetSensitivity)
  }

  /// The browser's tile width in cells (`review --thumb-size`), within
  /// `BrowserGrid.tileWidths`' range; set before `begin()`.
  public func setThumbnailWidth(_ columns: Int) {
    let widths = BrowserGrid.tileWidths
    state.thumbnailWidth = min(widths.last!, max(widths[0], columns))
  }

  /// Feeds an event through `update` and runs the resulting effects (which may produce more
  /// events) until everything settled. Returns false once the app wants to quit.
  @discardableResult
  public func dispatch(_ event: AppEvent) -> Bool {
    var queue = [event]
    while !queue.isEmpty {
      let e = queue.removeFirst()
      eventObserver?(e)
      if case .input(.terminate(let sig)) = e { pendingSignal = sig }
      let (next, effects) = update(state, e)
      state = next
      for effect in effects { queue += run(effect) }
      // A newly promoted model brings its own operating point (or none).
      if queue.isEmpty, state.modelVersion != screeningCheckedFor {
        screeningCheckedFor = state.modelVersion
        queue.append(.screeningLoaded(try? screeningPoint()))
      }
    }
    return !state.quitting
  }

  /// Runs the initial effects (first page, count).
  public func begin() {
    let (next, effects) = start(state)
    state = next
    for effect in effects { for e in run(effect) { dispatch(e) } }
  }

  /// The current frame.
  public var frame: Frame { View.render(state, images: images) }

  private func run(_ effect: Effect) -> [AppEvent] {
    do {
      switch effect {
      case .loadPage(let request):
        return [.pageLoaded(try store.casePage(request, viewer: viewer), request)]
      case .countCases(let filter):
        return [.countLoaded(try store.caseCount(filter, viewer: viewer))]
      case .loadCase(let id):
        let detail = try store.caseDetail(id: id, viewer: viewer)
        let history = try store.history(case: id, viewer: viewer).reversed()
        var pixels: [Int64: Int] = [:]
        for a in history where a.changed.contains(.mask) {
          guard let m = a.maskID, pixels[m] == nil else { continue }
          pixels[m] = try store.storedMask(id: m).values.reduce(0) { $0 + ($1 >= 128 ? 1 : 0) }
        }
        return [.caseLoaded(detail, history: Array(history)), .maskPixelsLoaded(pixels)]
      case .annotate(let caseID, let label):
        // Not on a case whose image was replaced since import (the view shows why).
        try store.requireUnchangedImage(case: caseID)
        return [
          .annotated(
            try store.annotate(
              case: caseID, rater: rater, label: label, mask: nil, session: session, clear: [], note: nil))
        ]
      case .loadMask(let id):
        let detail = try store.caseDetail(id: id, viewer: viewer)
        let mine = try detail.mine?.maskID.map { (m: Int64) throws(StoreError) in try store.storedMask(id: m)
        }
        let model = try detail.prediction?.maskID.map { (m: Int64) throws(StoreError) in
          try store.storedMask(id: m)
        }
        let reference = try detail.referenceMaskID.map { (m: Int64) throws(StoreError) in
          try store.storedMask(id: m)
        }
        return [
          .maskLoaded(
            caseID: id, mine: mine, model: model, reference: reference, width: detail.record.width,
            height: detail.record.height, mineAnnotation: detail.mine?.id)
        ]
      case .saveMask(let caseID, let mask, let base):
        try store.requireUnchangedImage(case: caseID)
        let r = try store.saveMaskEdit(case: caseID, rater: rater, mask: mask, base: base, session: session)
        return [
          .maskSaved(
            r.annotation, pixels: r.mask.values.reduce(0) { $0 + ($1 >= 128 ? 1 : 0) }, saved: r.mask,
            merged: r.merged)
        ]
      case .loadThumbnails(let requests):
        var loaded: [Int64: RGBImage?] = [:]
        let store = self.store
        for r in requests {
          loaded.updateValue(
            CaseImageFiles.thumbnail(r) { path in try? store.caseImage(at: path) }, forKey: r.caseID)
        }
        return [.thumbnailsLoaded(loaded)]
      case .loadCaseImage(let path):
        return [.caseImageLoaded(path: path, try? store.caseImage(at: path))]
      case .quit:
        return []
      case .saveSetting(let name, let value):
        // A shared workspace has no per-workspace settings the app may write yet: the choice
        // holds for this run only there.
        try store.embeddedStore?.setSetting(name, value)
        return []
      case .sessions(let e):
        return try runSession(e)
      case .retrain(let e):
        return try runRetrain(e)
      case .explain(let e):
        return try runExplain(e)
      case .predictions(let e):
        return try runPredictions(e)
      }
    } catch {
      return [.failed(error.description)]
    }
  }

  /// The interactive loop on a real terminal; returns when the user quits. A termination
  /// signal ends the session and re-raises it (after anything in flight was saved: labels
  /// are written synchronously before the next event is read).
  public func runInteractive(theme: Theme, backend: GraphicsBackend, environment: GraphicsEnvironment) throws
  {
    let terminal = try TerminalSession(
      theme: theme, backend: backend, cellSize: environment.cellSize, mousePixels: environment.mousePixels,
      terminalBackground: environment.background)
    let colours = OverlayColours(theme: theme)
    dispatch(.display(cellWidth: terminal.cellWidth, cellHeight: terminal.cellHeight, colours: colours))
    dispatch(.input(.resize(rows: terminal.rows, columns: terminal.columns)))
    begin()
    var nextTick = Date().addingTimeInterval(tickInterval)
    while true {
      terminal.render(frame)
      // Background work reports through an inbox: look at it often while something runs.
      let wait = min(max(0, nextTick.timeIntervalSinceNow), explanationWorker.busy ? 0.1 : 60)
      let events = terminal.nextEvents(timeoutMilliseconds: Int32(min(wait * 1000, 60_000).rounded(.up)))
      for event in events {
        if case .resize = event {
          dispatch(.display(cellWidth: terminal.cellWidth, cellHeight: terminal.cellHeight, colours: colours))
        }
        if !dispatch(.input(event)) {
          if let sig = pendingSignal { terminal.endAndReraise(sig) }
          terminal.end()
          return
        }
      }
      drainBackground()
      // The timer: about once a second, whatever else arrives (a busy keyboard must not
      // starve the live refresh).
      if Date() >= nextTick {
        nextTick = Date().addingTimeInterval(tickInterval)
        dispatch(.tick)
      }
    }
  }
}
