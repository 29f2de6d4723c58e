import Foundation
import Imaging

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

  public func validate() throws(ConfigError) {
    guard size >= 16 && size % 16 == 0 else {
      throw ConfigError(message: "size \(size) is not a multiple of 16")
    }
    guard channels.count == 4, decoderChannels.count == 4 else {
      throw ConfigError(message: "channels and decoder_channels need 4 entries each")
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
  }
}
