import Foundation
import Imaging
import NeuralEngine

/// The model configuration stored as JSON under `config` in a checkpoint's `__metadata__`
/// (docs/checkpoint-format.md §3), with the PyTorch reference's keys. Both sides write every key;
/// reading rejects unknown keys, so a misspelt option never silently falls back to a default.
public struct ModelConfiguration: Codable, Equatable, Sendable {
  public var schema: String = "all4"
  public var classes: [String] = ClassSchema.all4.classes
  public var hierarchical: Bool = true
  public var size: Int = 128
  public var channels: [Int] = [16, 32, 64, 128]
  public var decoderChannels: [Int] = [64, 32, 16, 16]
  public var tasks: [String] = ["cls", "seg"]
  /// Which tasks each task reads through its TTC units (absent: alpha = 0).
  public var ttcFrom: [String: [String]] = ["cls": ["seg"], "seg": ["cls"]]
  /// Initial beta of every TTC connection: ln(0.1 / 0.9), so alpha starts at 0.1.
  public var betaInit: Double = log(0.1 / 0.9)
  public var transformerWidth: Int = 128
  public var transformerDepth: Int = 2
  public var transformerHeads: Int = 4
  public var transformerMLP: Int = 256
  public var dropout: Double = 0.2
  public var transformerDropout: Double = 0.1
  public var bnEps: Double = 1e-5
  public var bnMomentum: Double = 0.1
  public var lnEps: Double = 1e-5
  public var blankCorner: BlankCorner?
  /// [width, height] of the images `blankCorner` was measured on.
  public var sourceSize: [Int]?
  public var stainNormalisation: StainNormalisation?
  /// Channels of the segmentation column's own full-resolution stem (issue 17), nil for none: two
  /// conv-BN-ReLU on the input image at S whose features join shared stage 1 as decoder block 4's
  /// skip. The key is optional (absent = nil) and left out when nil, so a configuration without a
  /// stem reads and writes exactly as before; a binary that predates it refuses a file with it.
  public var segStem: Int?

  /// The corner rectangle as the config stores it (the source size is a separate key).
  public struct BlankCorner: Codable, Equatable, Sendable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int
    public var fill: String
  }

  public init() {}

  /// The defaults for a schema: all4 blanks Aria's corner, wbc5 does not.
  public static func defaults(for schema: ClassSchema, size: Int = 128) -> ModelConfiguration {
    var c = ModelConfiguration()
    c.schema = schema.name
    c.classes = schema.classes
    c.hierarchical = schema.hierarchical
    c.size = size
    if schema.name == "all4" {
      let a = CornerBlank.aria
      c.blankCorner = BlankCorner(x: a.x, y: a.y, width: a.width, height: a.height, fill: a.fill)
      c.sourceSize = [a.sourceWidth, a.sourceHeight]
    }
    return c
  }

  /// What prediction must do to an image before the network sees it.
  public var preprocessing: Preprocessing {
    var corner: CornerBlank? = nil
    if let b = blankCorner, let s = sourceSize, s.count == 2 {
      corner = CornerBlank(
        x: b.x, y: b.y, width: b.width, height: b.height, sourceWidth: s[0], sourceHeight: s[1], fill: b.fill)
    }
    return Preprocessing(size: size, cornerBlank: corner, stainNormalisation: stainNormalisation)
  }

  public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { "model config: " + message }
  }

  /// Decodes and checks the JSON text of `__metadata__["config"]`.
  public static func decode(json: String) throws(ConfigError) -> ModelConfiguration {
    let data = Data(json.utf8)
    guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw ConfigError(message: "not a JSON object")
    }
    if let key = SafeTensorsFile.firstDuplicateKey(in: Array(json.utf8)[...]) {
      throw ConfigError(message: "the key \"\(key)\" appears twice in one object")
    }
    let known = Set(CodingKeys.allCases.map(\.rawValue))
    let unknown = obj.keys.filter { !known.contains($0) }.sorted()
    guard unknown.isEmpty else { throw ConfigError(message: "unknown keys \(unknown)") }
    let c: ModelConfiguration
    do {
      c = try JSONDecoder().decode(ModelConfiguration.self, from: data)
    } catch {
      throw ConfigError(message: "\(error)")
    }
    try c.validate()
    return c
  }

  /// The documented bounds of every size a configuration sets (docs/checkpoint-format.md §3,
  /// "Bounds"). A checkpoint is a file anyone can hand over: nothing it declares is allocated
  /// before it is checked against these, far above any model this tool trains (128 px, ≤ 256
  /// channels) and far below what would exhaust a workstation.
  public enum Bounds {
    public static let size = 16...1024
    public static let channels = 1...1024
    public static let transformerWidth = 1...2048
    public static let transformerDepth = 0...32
    public static let transformerHeads = 1...64
    public static let transformerMLP = 1...8192
    public static let classes = 2...256
    /// Characters of a class or schema name.
    public static let nameLength = 1...64
    public static let sourceSide = 1...65536
    public static let betaMagnitude = 50.0
    /// Estimated floats one image needs in a forward pass (feature maps, attention scores):
    /// 2^27 floats = 512 MiB; the default model at 128 px needs about 2 million.
    public static let workingSetFloats = 1 << 27
  }

  /// A rough count of the floats one image's forward pass keeps: every stage's output and its
  /// intermediate maps (about six per stage), the decoder's (with skips) and the transformer's
  /// attention scores and MLP activations. Used only to refuse absurd configurations.
  public var estimatedWorkingSetFloats: Int {
    let s = size
    var total = 0
    let taskCount = max(tasks.count, 1)
    for (i, c) in channels.enumerated() {
      let side = s >> i
      let maps = 6 * c * side * side
      total += i < 2 ? maps : maps * taskCount
    }
    for (i, d) in decoderChannels.enumerated() {
      let side = s >> (3 - i)
      total += 6 * d * side * side
    }
    total += 6 * (segStem ?? 0) * s * s
    let tokens = (s / 16) * (s / 16)
    total +=
      transformerDepth
      * (transformerHeads * tokens * tokens * 2 + tokens * (transformerMLP + 4 * transformerWidth))
    return total
  }

  public func validate() throws(ConfigError) {
    func within(_ name: String, _ value: Int, _ range: ClosedRange<Int>) throws(ConfigError) {
      guard range.contains(value) else {
        throw ConfigError(message: "\(name) \(value) is outside \(range.lowerBound)...\(range.upperBound)")
      }
    }
    try within("size", size, Bounds.size)
    guard size % 16 == 0 else {
      throw ConfigError(message: "size \(size) is not a multiple of 16")
    }
    guard channels.count == 4, decoderChannels.count == 4 else {
      throw ConfigError(message: "channels and decoder_channels need 4 entries each")
    }
    for (i, c) in channels.enumerated() { try within("channels[\(i)]", c, Bounds.channels) }
    for (i, c) in decoderChannels.enumerated() { try within("decoder_channels[\(i)]", c, Bounds.channels) }
    try within("transformer_width", transformerWidth, Bounds.transformerWidth)
    try within("transformer_depth", transformerDepth, Bounds.transformerDepth)
    try within("transformer_heads", transformerHeads, Bounds.transformerHeads)
    try within("transformer_mlp", transformerMLP, Bounds.transformerMLP)
    try within("number of classes", classes.count, Bounds.classes)
    for (i, name) in classes.enumerated() {
      guard Bounds.nameLength.contains(name.count) else {
        throw ConfigError(
          message: "classes[\(i)] has \(name.count) characters (1...\(Bounds.nameLength.upperBound))")
      }
    }
    guard Set(classes).count == classes.count else { throw ConfigError(message: "classes has a name twice") }
    guard Bounds.nameLength.contains(schema.count) else {
      throw ConfigError(
        message: "schema name has \(schema.count) characters (1...\(Bounds.nameLength.upperBound))")
    }
    guard tasks.count <= 2, Set(tasks).count == tasks.count else {
      throw ConfigError(message: "tasks \(tasks) names a task twice")
    }
    guard betaInit.isFinite, abs(betaInit) <= Bounds.betaMagnitude else {
      throw ConfigError(
        message: "beta_init \(betaInit) is not a finite number within ±\(Int(Bounds.betaMagnitude))")
    }
    for (name, v) in [
      ("dropout", dropout), ("transformer_dropout", transformerDropout), ("bn_eps", bnEps),
      ("bn_momentum", bnMomentum), ("ln_eps", lnEps),
    ] where !v.isFinite {
      throw ConfigError(message: "\(name) \(v) is not a finite number")
    }
    if let s = sourceSize {
      guard s.count == 2 else { throw ConfigError(message: "source_size needs [width, height]") }
      try within("source_size[0]", s[0], Bounds.sourceSide)
      try within("source_size[1]", s[1], Bounds.sourceSide)
      if let b = blankCorner {
        guard b.x >= 0, b.y >= 0, b.width >= 1, b.height >= 1, b.x <= s[0] - b.width, b.y <= s[1] - b.height
        else {
          throw ConfigError(
            message:
              "blank_corner \(b.x),\(b.y) \(b.width)×\(b.height) is not inside source_size \(s[0])×\(s[1])")
        }
      }
    }
    if let stain = stainNormalisation {
      let numbers: [Double]
      switch stain {
      case .reinhard(let mean, let std):
        guard mean.count == 3, std.count == 3 else {
          throw ConfigError(message: "stain_normalisation (reinhard) needs 3 means and 3 standard deviations")
        }
        numbers = mean + std
      case .macenko(let stains, let maxConcentration):
        guard stains.count == 2, stains.allSatisfy({ $0.count == 3 }), maxConcentration.count == 2 else {
          throw ConfigError(
            message: "stain_normalisation (macenko) needs 2 stain vectors of 3 and 2 concentrations")
        }
        numbers = stains.flatMap { $0 } + maxConcentration
      }
      guard numbers.allSatisfy(\.isFinite) else {
        throw ConfigError(message: "stain_normalisation holds a number that is not finite")
      }
    }
    let working = estimatedWorkingSetFloats
    guard working <= Bounds.workingSetFloats else {
      throw ConfigError(
        message:
          "size \(size) with channels \(channels), decoder_channels \(decoderChannels) and a \(transformerDepth)-layer "
          + "transformer needs about \(working / (1 << 18)) MiB per image, over the \(Bounds.workingSetFloats / (1 << 18)) MiB bound"
      )
    }
    guard tasks.allSatisfy({ $0 == "cls" || $0 == "seg" }), !tasks.isEmpty else {
      throw ConfigError(message: "tasks \(tasks) (cls, seg)")
    }
    for (p, qs) in ttcFrom {
      for q in qs where !(tasks.contains(p) && tasks.contains(q) && p != q) {
        throw ConfigError(message: "ttc_from[\(p)] names \(q): both must be distinct configured tasks")
      }
    }
    guard transformerHeads > 0, transformerWidth % transformerHeads == 0 else {
      throw ConfigError(message: "transformer_width must be divisible by transformer_heads")
    }
    guard !hierarchical || classes.count >= 3 else {
      throw ConfigError(message: "a hierarchical head needs a negative class and at least two subtypes")
    }
    if blankCorner != nil && (sourceSize?.count ?? 0) != 2 {
      throw ConfigError(message: "blank_corner needs source_size [width, height]")
    }
    if let segStem {
      try within("seg_stem", segStem, Bounds.channels)
      guard tasks.contains("seg") else { throw ConfigError(message: "seg_stem needs the seg task") }
    }
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case schema, classes, hierarchical, size, channels, tasks, dropout
    case decoderChannels = "decoder_channels"
    case ttcFrom = "ttc_from"
    case betaInit = "beta_init"
    case transformerWidth = "transformer_width"
    case transformerDepth = "transformer_depth"
    case transformerHeads = "transformer_heads"
    case transformerMLP = "transformer_mlp"
    case transformerDropout = "transformer_dropout"
    case bnEps = "bn_eps"
    case bnMomentum = "bn_momentum"
    case lnEps = "ln_eps"
    case blankCorner = "blank_corner"
    case sourceSize = "source_size"
    case stainNormalisation = "stain_normalisation"
    case segStem = "seg_stem"
  }

  // Optional keys are written as null, as Python's json does, so both sides write the same keys.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(schema, forKey: .schema)
    try c.encode(classes, forKey: .classes)
    try c.encode(hierarchical, forKey: .hierarchical)
    try c.encode(size, forKey: .size)
    try c.encode(channels, forKey: .channels)
    try c.encode(decoderChannels, forKey: .decoderChannels)
    try c.encode(tasks, forKey: .tasks)
    try c.encode(ttcFrom, forKey: .ttcFrom)
    try c.encode(betaInit, forKey: .betaInit)
    try c.encode(transformerWidth, forKey: .transformerWidth)
    try c.encode(transformerDepth, forKey: .transformerDepth)
    try c.encode(transformerHeads, forKey: .transformerHeads)
    try c.encode(transformerMLP, forKey: .transformerMLP)
    try c.encode(dropout, forKey: .dropout)
    try c.encode(transformerDropout, forKey: .transformerDropout)
    try c.encode(bnEps, forKey: .bnEps)
    try c.encode(bnMomentum, forKey: .bnMomentum)
    try c.encode(lnEps, forKey: .lnEps)
    try c.encode(blankCorner, forKey: .blankCorner)
    try c.encode(sourceSize, forKey: .sourceSize)
    try c.encode(stainNormalisation, forKey: .stainNormalisation)
    // Optional since issue 17: written only when set, so older files keep their bytes.
    try c.encodeIfPresent(segStem, forKey: .segStem)
  }
}
