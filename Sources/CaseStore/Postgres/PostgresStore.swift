import FileSafety
import Foundation
import Imaging

/// The store of a shared workspace: a PostgreSQL database reached through libpq.
///
/// The connection's role is the rater (`connectedRater`, from `session_user`): over the Unix
/// socket with peer authentication it is the OS user, over TCP the authenticated role. Every
/// read and write goes through the schema's `SECURITY DEFINER` functions
/// (`PGFunctionsV1`), which apply the blinding rules and the role checks in the server, so
/// this class holds no access rule of its own beyond refusing to act as someone else.
/// Images live in the database, content-addressed by SHA-256 and checked on read.
public final class PostgresStore: WorkspaceStore, @unchecked Sendable {
  public let connection: PGConnection
  /// The libpq URL or connection string, as given.
  public let target: String
  public let connectedRater: String?
  /// `service` (the role that owns the schema: the trainer, `init`, migration), `lead`,
  /// `adjudicator`, `rater`, or nil for a role that is none of these.
  public let role: String?
  public let labelSchema: LabelSchema
  /// The workspace's local directory (`database.url`, this user's caches), when opened from
  /// one; set once, right after opening, before the store is shared.
  public var localWorkspace: Workspace?
  /// Whether `create` made the workspace's schema just now (not attached to an existing one):
  /// what only the workspace's creation does (the shipped model) keys on it.
  public internal(set) var createdNow = false
  /// Whether this connection holds the workspace's trainer lock (the lease of
  /// `pg-v7-lock-rows`, which ends with the connection's server process).
  var holdsTrainerLock = false

  private init(connection: PGConnection, target: String) throws(StoreError) {
    self.connection = connection
    self.target = target
    let me = try connection.query("SELECT session_user::text").first?[0] ?? ""
    let versions: [String]
    do {
      versions = try connection.query("SELECT * FROM blastview.schema_version()").compactMap { $0[0] }
    } catch {
      if try connection.query("SELECT to_regnamespace('blastview') IS NULL").first?[0] == "t" {
        throw .workspaceMissing(
          "\(connection.displayTarget) (no BlastView schema in that database; the service role creates it with "
            + "`blastview init --workspace DIR --database URL`)")
      }
      throw .invalidInput(
        "\(me) is not a rater of the shared workspace at \(connection.displayTarget) (\(error)); a lead adds "
          + "raters with `blastview rater add \(me)`")
    }
    let unknown = versions.filter { !PGMigrations.known.contains($0) }
    if !unknown.isEmpty { throw .newerSchema(path: connection.displayTarget, unknownMigrations: unknown) }
    let who = try connection.query("SELECT * FROM blastview.whoami()").first
    connectedRater = who?["name"] ?? me
    role = who?["role"]
    let classes = try connection.query("SELECT * FROM blastview.label_classes()")
    let settings = try connection.query("SELECT * FROM blastview.settings()")
    let name = settings.first { $0["key"] == "label_schema" }?["value"] ?? "custom"
    let groups: [String] =
      (settings.first { $0["key"] == "label_groups" }?["value"]).flatMap {
        try? JSONDecoder().decode([String].self, from: Data($0.utf8))
      } ?? []
    labelSchema = LabelSchema(
      name: name,
      classes: classes.map { r in
        LabelSchema.LabelClass(
          name: r["name"] ?? "", key: r["key"] ?? "", letter: r["letter"] ?? "", group: r["group_name"],
          aliases: (r["aliases"]).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
            ?? [])
      }, groups: groups)
  }

  /// Opens the shared workspace at `target` as whoever libpq authenticates.
  /// `database` replaces the target's database name (see `PGConnection.init`).
  public static func open(_ target: String, database: String? = nil) throws(StoreError) -> PostgresStore {
    try PostgresStore(connection: try PGConnection(target, database: database), target: target)
  }

  /// Creates the workspace's schema in the database at `target` (the connected role, which
  /// must have CREATEROLE, becomes its owner: the service role), or, when it exists already,
  /// checks it and opens it. `leads` are added with the lead role.
  public static func create(
    _ target: String, database: String? = nil, schema: LabelSchema, leads: [String] = []
  ) throws(StoreError) -> PostgresStore {
    try create(target, database: database, schema: schema, leads: leads, through: nil)
  }

  /// `create` stopping after migration `through`: a workspace as an older build left it, to
  /// test that the later migrations upgrade it (tests only).
  @_spi(Testing) public static func create(
    _ target: String, database: String? = nil, schema: LabelSchema, leads: [String] = [], through: String?
  ) throws(StoreError) -> PostgresStore {
    try schema.validate(source: schema.name)
    let c = try PGConnection(target, database: database)
    let owner = try c.query(
      "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'blastview'"
    ).first?[0]
    let me = try c.query("SELECT session_user::text").first?[0] ?? ""
    var created = false
    if owner == nil || owner == me {
      let applied = try PGMigrations.migrate(c, target: c.displayTarget, through: through)
      created = applied.contains("pg-v1-shared-workspace")
      if created {
        try c.transaction { () throws(StoreError) in
          for (i, cls) in schema.classes.enumerated() {
            let aliases = String(
              decoding: (try? JSONEncoder().encode(cls.aliases)) ?? Data("[]".utf8), as: UTF8.self)
            try c.query(
              "INSERT INTO blastview.label_class (position, name, key, letter, group_name, aliases) "
                + "VALUES ($1, $2, $3, $4, $5, $6)",
              [
                .int(Int64(i)), .text(cls.name), .text(cls.key), .text(cls.letter), .optional(cls.group),
                .text(aliases),
              ])
          }
          let groups = String(
            decoding: (try? JSONEncoder().encode(schema.groups)) ?? Data("[]".utf8), as: UTF8.self)
          for (k, v) in [
            ("label_schema", schema.name), ("label_groups", groups), ("split_seed", Split.defaultSeed),
            ("created_at", CaseStore.timestamp(Date())),
          ] {
            try c.query("INSERT INTO blastview.setting (key, value) VALUES ($1, $2)", [.text(k), .text(v)])
          }
        }
      }
    }
    let store = try PostgresStore(connection: c, target: target)
    store.createdNow = created
    for lead in leads { try store.addRater(lead, role: .lead) }
    return store
  }

  var isService: Bool { role == "service" }

  /// Refuses to read as anyone but the connected role: the functions blind by
  /// `session_user`, so a read "as" someone else would silently be a read as oneself.
  func checkViewer(_ viewer: Viewer) throws(StoreError) {
    if let r = viewer.rater { _ = try actingRater(claimed: r) }
  }

  // MARK: Raters

  @discardableResult
  public func addRater(_ name: String, role: WorkspaceRole) throws(StoreError) -> WorkspaceRater {
    let row = try connection.transaction { () throws(StoreError) -> PGRow? in
      try connection.query("SELECT * FROM blastview.rater_add($1, $2)", [.text(name), .text(role.rawValue)])
        .first
    }
    return WorkspaceRater(
      name: row?["name"] ?? name, role: row?["role"].flatMap(WorkspaceRole.init(rawValue:)))
  }

  public func workspaceRaters() throws(StoreError) -> [WorkspaceRater] {
    try connection.query("SELECT * FROM blastview.raters()").map {
      WorkspaceRater(name: $0["name"] ?? "", role: $0["role"].flatMap(WorkspaceRole.init(rawValue:)))
    }
  }

  // MARK: Cases

  public func resolveCase(_ text: String) throws(StoreError) -> Int64 {
    guard
      let id = try connection.query("SELECT blastview.resolve_case($1)", [.text(text)]).first?[0]
        .flatMap({ Int64($0) })
    else { throw StoreError.unknownCase(text) }
    return id
  }

  public func caseRecord(id: Int64, viewer: Viewer) throws(StoreError) -> CaseRecord {
    try checkViewer(viewer)
    guard let r = try connection.query("SELECT * FROM blastview.case_record($1)", [.int(id)]).first else {
      throw .unknownCase(String(id))
    }
    let path = r["path"] ?? ""
    let sha = r["sha256"] ?? ""
    var record = CaseRecord(
      id: r.int("id") ?? id, path: path, pathIsRelative: true, imagePath: PostgresStore.imageAddress(sha),
      sha256: sha,
      format: r["format"] ?? "", width: Int(r.int("width") ?? 0), height: Int(r.int("height") ?? 0),
      referenceLabel: r["reference_label"], split: Split(rawValue: r["split"] ?? "") ?? .train,
      addedAt: r.date("added_at") ?? Date(timeIntervalSince1970: 0))
    // The server gives the opaque name (and no reference label) while the viewer is blinded;
    // a database not yet migrated to pg-v2-review has no such column and gives the path.
    record.pathHidden = r.bool("blinded") ?? false
    return record
  }

  public func caseCount() throws(StoreError) -> Int {
    Int(try connection.query("SELECT blastview.case_count()").first?[0].flatMap { Int64($0) } ?? 0)
  }

  /// The images live in the database, content-addressed: reading them checks the SHA-256.
  public func requireUnchangedImage(case caseID: Int64) throws(StoreError) {
    _ = try imageBytes(case: caseID)
  }

  public func imageBytes(case id: Int64) throws(StoreError) -> [UInt8] {
    guard let r = try connection.query("SELECT * FROM blastview.case_image($1)", [.int(id)]).first,
      let bytes = r.bytes("bytes"), let sha = r["sha256"]
    else { throw .unknownCase(String(id)) }
    guard Digest.sha256Hex(bytes) == sha else {
      throw .corrupt(
        path: connection.displayTarget,
        detail: "the stored image of case \(id) does not match its SHA-256 \(sha)")
    }
    return bytes
  }

  /// Adds one image (its bytes go into the database). Returns the case id and whether it is
  /// new. Leads and the service role only.
  public func addImage(
    path: String, bytes: [UInt8], sha256: String, format: String, width: Int, height: Int,
    referenceLabel: String?,
    split: Split
  ) throws(StoreError) -> (id: Int64, created: Bool) {
    let r = try addImage(
      path: path, bytes: bytes, sha256: sha256, format: format, width: width, height: height,
      referenceLabel: referenceLabel, split: split, mask: nil, maskSource: nil)
    return (r.id, r.created)
  }

  /// One image, and the reference mask of the case it creates, in one transaction.
  func addImage(
    path: String, bytes: [UInt8], sha256: String, format: String, width: Int, height: Int,
    referenceLabel: String?, split: Split, mask: MaskBlob?, maskSource: String?
  ) throws(StoreError) -> (id: Int64, created: Bool, masked: Bool) {
    try connection.transaction { () throws(StoreError) -> (id: Int64, created: Bool, masked: Bool) in
      let r = try connection.query(
        "SELECT * FROM blastview.case_add($1, $2, $3, $4, $5, $6, $7, $8)",
        [
          .text(path), .text(sha256), .text(format), .int(Int64(width)), .int(Int64(height)),
          .optional(referenceLabel), .text(split.rawValue), .bytes(bytes),
        ]
      ).first
      let id = r?.int("id") ?? -1
      let created = r?.bool("created") ?? false
      guard created, let mask else { return (id, created, false) }
      let masked =
        try connection.query(
          "SELECT blastview.case_reference_mask($1, $2, $3, $4, $5, $6) AS ok",
          [
            .int(id), .text(mask.sha256), .int(Int64(mask.width)), .int(Int64(mask.height)), .bytes(mask.png),
            .optional(maskSource),
          ]
        ).first?.bool("ok") ?? false
      return (id, created, masked)
    }
  }

  // MARK: Annotations

  @discardableResult
  public func annotate(
    case caseID: Int64, rater: String, label: String?, mask: Mask?, session: String?, clear: AnnotationFields,
    note: String?
  ) throws(StoreError) -> Annotation {
    let canonical: String? = try label.map { (l: String) throws(StoreError) in try canonicalLabel(l) }
    let blob = mask.map { MaskBlob(mask: $0) }
    let rows = try connection.transaction { () throws(StoreError) -> [PGRow] in
      try annotateRow(
        caseID: caseID, rater: rater, label: canonical, blob: blob, session: session, clear: clear, note: note
      )
    }
    guard let row = rows.first else { throw .database("annotate returned nothing") }
    return PostgresStore.annotation(row)
  }

  /// One annotation inside the caller's transaction: as oneself, or (the service role only)
  /// as another rater.
  private func annotateRow(
    caseID: Int64, rater: String, label: String?, blob: MaskBlob?, session: String?, clear: AnnotationFields,
    note: String?
  ) throws(StoreError) -> [PGRow] {
    let args: [PGValue] = [
      .int(caseID), .optional(label), blob.map { PGValue.bytes($0.png) } ?? PGValue.null,
      .optional(blob?.sha256), blob.map { PGValue.int(Int64($0.width)) } ?? PGValue.null,
      blob.map { PGValue.int(Int64($0.height)) } ?? PGValue.null,
      .optional(session), .int(Int64(clear.rawValue)), .optional(note),
    ]
    if rater != connectedRater && isService {
      return try connection.query(
        "SELECT * FROM blastview.annotate_as($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", [.text(rater)] + args)
    }
    _ = try actingRater(claimed: rater)
    return try connection.query("SELECT * FROM blastview.annotate($1, $2, $3, $4, $5, $6, $7, $8, $9)", args)
  }

  public func history(case caseID: Int64, viewer: Viewer) throws(StoreError) -> [Annotation] {
    try checkViewer(viewer)
    _ = try caseRecord(id: caseID, viewer: viewer)
    return try connection.query("SELECT * FROM blastview.history($1)", [.int(caseID)]).map(
      PostgresStore.annotation)
  }

  /// The PNG of a mask, or nil when nothing the connected rater may see refers to it.
  public func maskPNG(id: Int64) throws(StoreError) -> [UInt8]? {
    guard let r = try connection.query("SELECT * FROM blastview.mask_png($1)", [.int(id)]).first,
      let png = r.bytes("png"), let sha = r["sha256"]
    else { return nil }
    guard Digest.sha256Hex(png) == sha else {
      throw .corrupt(path: connection.displayTarget, detail: "stored mask \(id) does not match its SHA-256")
    }
    return png
  }

  public func importLabels(csvPath: String, session: String?) throws(StoreError) -> [Annotation] {
    let me = connectedRater
    let service = isService
    let rows = try LabelRowsCSV.read(
      csvPath, schema: labelSchema,
      resolveCase: { (text: String) throws(StoreError) in try resolveCase(text) },
      raterProblem: { (rater: String) -> String? in
        rater == me || service
          ? nil
          : "the row is rater \(rater)'s, but you are connected as \(me ?? "?"); "
            + "nobody records labels in another rater's name"
      })
    return try connection.transaction { () throws(StoreError) -> [Annotation] in
      var out: [Annotation] = []
      for r in rows {
        let got = try annotateRow(
          caseID: r.caseID, rater: r.rater, label: r.label, blob: nil, session: session, clear: [],
          note: "labels import")
        out += got.map(PostgresStore.annotation)
      }
      return out
    }
  }

  // MARK: Sessions

  @discardableResult
  public func createSession(
    name: String, raters: [String], cases: CaseSelection, blinded: Bool, hideModel: Bool, createdBy: String
  ) throws(StoreError) -> SessionInfo {
    _ = try actingRater(claimed: createdBy)
    guard !name.isEmpty, name.count <= 100,
      !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
    else { throw .invalidInput("session name must have 1-100 characters and no control characters") }
    let unique = raters.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    guard !unique.isEmpty else { throw .invalidInput("a session needs at least one rater") }
    var split: String? = nil
    var referenceClass: String? = nil
    var ids: String? = nil
    switch cases {
    case .all: break
    case .split(let s): split = s.rawValue
    case .referenceClass(let c): referenceClass = try canonicalLabel(c)
    case .ids(let list): ids = "[" + list.map(String.init).joined(separator: ",") + "]"
    case .first, .random:
      throw .invalidInput(
        "--cases \(cases.description): a shared workspace takes all, split:NAME, class:NAME or a file of cases"
      )
    }
    let raterJSON = String(decoding: (try? JSONEncoder().encode(unique)) ?? Data("[]".utf8), as: UTF8.self)
    try connection.transaction { () throws(StoreError) in
      try connection.query(
        "SELECT blastview.session_create($1, $2, $3, $4, $5, $6, $7, $8)",
        [
          .text(name), .text(raterJSON), .text(cases.description), .optional(split),
          .optional(referenceClass),
          .optional(ids), .bool(blinded), .bool(hideModel),
        ])
    }
    return try session(named: name)
  }

  public func closeSession(_ name: String, by rater: String) throws(StoreError) {
    _ = try actingRater(claimed: rater)
    try connection.transaction { () throws(StoreError) in
      try connection.query("SELECT blastview.session_close($1)", [.text(name)])
    }
  }

  public func session(named name: String) throws(StoreError) -> SessionInfo {
    guard let s = try sessions().first(where: { $0.name == name }) else { throw .unknownSession(name) }
    return s
  }

  /// All sessions, newest first.
  public func sessions() throws(StoreError) -> [SessionInfo] {
    try connection.query("SELECT * FROM blastview.sessions()").map { r in
      let raters = (try? JSONDecoder().decode([String].self, from: Data((r["raters"] ?? "[]").utf8))) ?? []
      var labelled: [String: Int] = [:]
      for name in raters { labelled[name] = 0 }
      let counts =
        (try? JSONDecoder().decode([String: Int].self, from: Data((r["labelled"] ?? "{}").utf8))) ?? [:]
      for (k, v) in counts { labelled[k] = v }
      return SessionInfo(
        id: r.int("id") ?? 0, name: r["name"] ?? "", blinded: r.bool("blinded") ?? false,
        hideModel: r.bool("hide_model") ?? false, caseSelection: r["case_selection"] ?? "",
        createdBy: r["created_by"] ?? "", createdAt: r.date("created_at") ?? Date(timeIntervalSince1970: 0),
        closedAt: r.date("closed_at"), raters: raters, caseCount: Int(r.int("n_cases") ?? 0),
        labelled: labelled)
    }
  }

  public func currentLabels(session: String, viewer: Viewer) throws(StoreError) -> [RaterLabel] {
    try checkViewer(viewer)
    return try connection.query("SELECT * FROM blastview.current_labels($1)", [.text(session)]).map {
      RaterLabel(caseID: $0.int("case_id") ?? 0, rater: $0["rater"] ?? "", label: $0["label"] ?? "")
    }
  }

  // MARK: Helpers

  /// The class name for `text` (a name or an alias), as `CaseStore.canonicalLabel`.
  public func canonicalLabel(_ text: String) throws(StoreError) -> String {
    guard let c = labelSchema.resolve(text) else {
      throw .unknownLabel(text, valid: labelSchema.classNames)
    }
    return c.name
  }

  static func annotation(_ r: PGRow) -> Annotation {
    Annotation(
      id: r.int("id") ?? 0, caseID: r.int("case_id") ?? 0, rater: r["rater"] ?? "", session: r["session"],
      label: r["label"], maskID: r.int("mask_id"),
      changed: AnnotationFields(rawValue: Int(r.int("changed") ?? 0)),
      supersedes: r.int("supersedes"), note: r["note"],
      createdAt: r.date("created_at") ?? Date(timeIntervalSince1970: 0))
  }
}
