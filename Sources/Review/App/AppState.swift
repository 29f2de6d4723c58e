import CaseStore
import Foundation
import Imaging
import Terminal

/// Which screen is in front.
public enum Screen: Equatable, Sendable {
  case browser
  case caseView
  case maskEditor
  /// A session's agreement statistics (`Screens/Dashboard*.swift`).
  case dashboard
  /// The disagreement triage queue and one case's adjudication (`Screens/Triage*.swift`,
  /// `Screens/Adjudication*.swift`).
  case triage
  case adjudication
  /// The model registry: versions, metrics, training curves, promote and roll back
  /// (`Screens/ModelScreen.swift`, `Retraining.swift`).
  case models
}

/// Overlay colours from the theme, as RGB.
public struct OverlayColours: Equatable, Sendable {
  public var myMask: [UInt8] = [255, 215, 0]
  public var brush: [UInt8] = [255, 255, 255]
  public var modelMask: [UInt8] = [0, 215, 255]
  public var otherMask: [UInt8] = [255, 95, 215]
  public init() {}
  public init(theme: Theme) {
    func rgb(_ name: String) -> [UInt8] {
      let c = theme.overlayRGB(name)
      return [c.0, c.1, c.2]
    }
    myMask = rgb("myMask")
    brush = rgb("brush")
    modelMask = rgb("modelMask")
    otherMask = rgb("otherMask")
  }
}

/// A line for the status bar.
public struct StatusMessage: Equatable, Sendable {
  public enum Kind: Equatable, Sendable { case info, ok, error }
  public var text: String
  public var kind: Kind
  public init(_ text: String, _ kind: Kind = .info) {
    self.text = text
    self.kind = kind
  }
}

/// The whole state of the review app (Elm architecture, DESIGN §2): `update` turns it and an
/// event into a new state and effects; `view` turns it into a `Frame`. Nothing here touches
/// the terminal or the database.
public struct AppState: Equatable, Sendable {
  // Terminal.
  public var rows: Int
  public var columns: Int
  /// Whether images are drawn (false with `--graphics none`: the browser is a list).
  public var graphics: Bool

  // Who and where.
  public var schema: LabelSchema
  public var rater: String
  public var workspaceName: String
  /// The workspace's directory, for the command lines hints print (`View.command`).
  public var workspacePath = ""
  public var session: String?
  public var modelVersion: Int64?
  public var totalCases: Int
  /// The promoted model's screening operating point (issue 17), read from its checkpoint; nil
  /// before it is read or without a promoted model.
  public var screening: ScreeningPoint?

  public var screen: Screen = .browser
  public var showHelp = false
  /// The help's page when a screen has more keys than fit (space or PgDn turns it).
  public var helpPage = 0
  public var status: StatusMessage?
  public var quitting = false

  // Browser.
  public var filter = CaseFilter()
  public var sort: CaseSort = .id
  public var ascending = true
  /// The request that produced `page` (its cursor and direction), to reload in place.
  public var pageRequest: CasePageRequest?
  public var page: CasePage?
  public var pageNumber = 1
  public var selection = 0
  /// The number of cases matching the filter (nil until counted).
  public var matching: Int?
  /// Text being typed after `/`, nil when not searching.
  public var searchInput: String?
  /// After the next page loads, open its first (or last) case: `n`/`p` across a page edge.
  public var openAfterLoad: OpenAfterLoad?

  public enum OpenAfterLoad: Equatable, Sendable { case first, last }
  /// The browser's tile width in cells (`+`/`-`, `review --thumb-size`); see `BrowserGrid`.
  public var thumbnailWidth = BrowserGrid.defaultTileWidth
  /// After a label, open the next case (issue 18: on by default in a session's queue; `N`
  /// switches it and the workspace keeps the choice).
  public var advanceAfterLabel = false
  /// "Replace my label with the model's?", waiting for `y` (issue 18: `a` silently replaced
  /// a different label of mine).
  public var confirmAccept: PendingLabel?

  /// A label waiting for a confirmation.
  public struct PendingLabel: Equatable, Sendable {
    public var caseID: Int64
    public var label: String
  }

  // Case view.
  public var detail: CaseDetail?
  public var history: [Annotation] = []
  /// Nucleus pixels of the masks in the open case's history, by mask id (the history says how
  /// big each saved mask is).
  public var maskPixels: [Int64: Int] = [:]

  // Mask editor.
  public var editor: MaskEditor?
  /// The model's nucleus mask for the case (for "accept the model's mask").
  public var modelMask: Mask?
  /// The case's reference mask from import, where the viewer may see it (for "take the
  /// reference mask": a hematologist correcting an imported mask starts from it).
  public var referenceMask: Mask?
  /// Cell size in screen pixels, to map mouse positions to image pixels.
  public var cellWidth = 10
  public var cellHeight = 20
  public var overlayColours = OverlayColours()
  /// The decoded images the view draws (read by effects).
  public var pictures = CasePictures()

  // Sessions, live refresh, triage and adjudication (`Screens/`).
  /// My role in the workspace: only adjudicators adjudicate.
  public var role: RaterRole = .rater
  /// The session worked in (progress, open or closed), reloaded as labels arrive.
  public var sessionInfo: SessionInfo?
  /// The store's `externalChangeVersion` when last polled: another process committed when it moves.
  public var changeVersion: Int?
  public var dashboard: DashboardState?
  /// The list of sessions `A` shows outside a session (`SessionPicker.swift`).
  public var sessionPicker: SessionPickerState?
  public var triage: TriageState?
  /// Triage's low-confidence threshold on the model's top probability (`[`/`]` change it).
  public var triageConfidence = KeyMap.lowConfidence
  public var adjudication: AdjudicationState?
  /// The case view's overlay toggles and the masks they draw.
  public var overlays = CaseOverlays()
  /// Mask overlays filled or as outlines, in the case view, the mask editor and the
  /// adjudication (`O`; the workspace keeps it).
  public var maskStyle: MaskOverlayStyle = .fill
  /// Zoom and pan of the case image (case view, mask editor, adjudication).
  public var zoom = Zoom()
  /// Background retraining and the model screen (`Retraining.swift`).
  public var retrain = RetrainState()
  /// The case view's explanation overlay and nucleus boxes (`Screens/Explanation*.swift`).
  public var explanations = ExplanationState()
  /// The promoted model's predictions being filled in the background (`BackgroundPredictions.swift`).
  public var predictions = PredictionState()

  public init(
    rows: Int, columns: Int, graphics: Bool, schema: LabelSchema, rater: String, workspaceName: String,
    session: String? = nil, modelVersion: Int64? = nil, totalCases: Int = 0
  ) {
    self.rows = rows
    self.columns = columns
    self.graphics = graphics
    self.schema = schema
    self.rater = rater
    self.workspaceName = workspaceName
    self.session = session
    self.modelVersion = modelVersion
    self.totalCases = totalCases
  }

  /// Below 80 × 24 the app shows only a request to enlarge the terminal.
  public var tooSmall: Bool { rows < 24 || columns < 80 }

  /// The case under the browser's selection.
  public var selectedRow: CaseRow? {
    guard let rows = page?.rows, selection >= 0, selection < rows.count else { return nil }
    return rows[selection]
  }

  /// The browser's grid geometry for the current size and thumbnail size.
  public var grid: BrowserGrid {
    BrowserGrid(rows: rows, columns: columns, graphics: graphics, tileWidth: thumbnailWidth)
  }
}

/// A model version's screening operating point: P(malignant) at or above `threshold` is
/// "possibly malignant". `threshold` nil: the model has none (nothing is invented).
public struct ScreeningPoint: Equatable, Sendable {
  public var modelVersion: Int64
  public var threshold: Double?
  public var targetSensitivity: Double?

  public init(modelVersion: Int64, threshold: Double?, targetSensitivity: Double? = nil) {
    self.modelVersion = modelVersion
    self.threshold = threshold
    self.targetSensitivity = targetSensitivity
  }
}

/// How the browser lays out tiles (or list rows) on the screen.
public struct BrowserGrid: Equatable, Sendable {
  /// Tile widths in cells, including the one-cell gap at the right: `+` and `-` step through
  /// them. The narrowest still holds a caption ("▶#1234 P 0.83 me:P") uncut.
  public static let tileWidths = [20, 26, 32, 40, 50]
  public static let defaultTileWidth = 20

  /// The narrowest tile whose caption holds the schema's widest class name whole beside a
  /// four-digit case number and a probability ("▶#1234 neutrophil 0.83"): 20 for all4, 26
  /// for wbc5. Narrower tiles (`-`) shorten names by `ClassNames`' rule.
  public static func defaultTileWidth(for schema: LabelSchema) -> Int {
    let caption = TextWidth.of("▶#1234 ") + ClassNames.widest(schema) + TextWidth.of(" 0.83") + 1
    return tileWidths.first { $0 >= caption } ?? tileWidths.last!
  }
  /// Tile size in cells, including a one-cell gap right, the two caption lines and a gap
  /// below. The image part keeps about a 4:3 picture on a cell twice as tall as wide.
  public let tileColumns: Int
  public let tileRows: Int
  /// First and last rows available for tiles (below the header and filter line, above the
  /// status line).
  public let top = 2
  public let across: Int
  public let down: Int
  public let graphics: Bool

  public init(rows: Int, columns: Int, graphics: Bool, tileWidth: Int = BrowserGrid.defaultTileWidth) {
    self.graphics = graphics
    tileColumns = max(BrowserGrid.tileWidths[0], tileWidth)
    // 19 columns of picture take 6 rows (as before); wider tiles grow in proportion.
    tileRows = (tileColumns - 1) * 6 / 19 + 3
    let usable = max(1, rows - 3)
    if graphics {
      across = max(1, columns / tileColumns)
      down = max(1, usable / tileRows)
    } else {
      across = 1
      down = max(1, usable - 1)  // one line for the column headings
    }
  }

  /// Cases per page.
  public var pageSize: Int { across * down }
}
