import Foundation
import Testing

@testable import Agreement

/// Reference values written by tools/fixtures/make_agreement_fixtures.py (sklearn,
/// statsmodels, krippendorff, irrCAC, and the script's own mask reference).
enum Fixtures {
  static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "json") else {
      throw FixtureError.missing(name)
    }
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
  }

  enum FixtureError: Error { case missing(String) }
}

struct Generator: Decodable {
  let script: String
  let command: String
  let versions: [String: String]
}

struct StatsmodelsKappa: Decodable {
  let kappa: Double
  let se: Double?
  let se0: Double?
  let z: Double?
  let ci_low: Double?
  let ci_upp: Double?
}

struct IrrGwet: Decodable {
  let ac1: Double
  let se: Double
  let pa: Double
  let pe: Double
}

struct TwoRaterFile: Decodable {
  let generator: Generator
  let cases: [TwoRaterCase]
}

struct TwoRaterCase: Decodable, CustomTestStringConvertible {
  let name: String
  let k: Int
  let a: [Int32]
  let b: [Int32]
  let categories: [String]?
  let sklearn_kappa: Double?
  let sklearn_kappa_linear: Double?
  let sklearn_kappa_quadratic: Double?
  let statsmodels: StatsmodelsKappa?
  let statsmodels_linear: StatsmodelsKappa?
  let statsmodels_quadratic: StatsmodelsKappa?
  let clinical_weights: [[Double]]?
  let statsmodels_clinical: StatsmodelsKappa?
  let irrcac_gwet: IrrGwet?
  let irrcac_bp: Double?
  let irrcac_scott: Double?
  let specific_agreement: [Double?]
  let published: [String: PublishedValue]?

  var testDescription: String { name }
  var table: ConfusionMatrix { ConfusionMatrix(k: k, rows: a, cols: b) }
}

/// Published entries are numbers, except a "source" string.
enum PublishedValue: Decodable {
  case number(Double)
  case text(String)
  init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let d = try? c.decode(Double.self) {
      self = .number(d)
    } else {
      self = .text(try c.decode(String.self))
    }
  }
  var number: Double? { if case .number(let d) = self { return d } else { return nil } }
}

struct MultiRaterFile: Decodable {
  let generator: Generator
  let cases: [MultiRaterCase]
}

struct IrrFleiss: Decodable {
  let kappa: Double
  let se: Double
  let pa: Double
  let pe: Double
}

struct PairReference: Decodable {
  let a: Int
  let b: Int
  let n: Int
  let kappa: Double?
}

struct MultiRaterCase: Decodable, CustomTestStringConvertible {
  let name: String
  let k: Int
  let raters: Int
  let ratings: [[Int32]]
  let krippendorff_nominal: Double?
  let krippendorff_ordinal: Double?
  let irrcac_gwet: IrrGwet
  let complete_items: Int
  let statsmodels_fleiss: Double?
  let irrcac_fleiss: IrrFleiss?
  let fleiss_se0: Double?
  let pairwise: [PairReference]
  let lights_kappa: Double?
  let published: [String: PublishedValue]?

  var testDescription: String { name }

  var table: RatingTable {
    RatingTable(
      categories: (0..<k).map { "c\($0)" }, raters: (0..<raters).map { "r\($0)" },
      items: ratings.indices.map { "i\($0)" }, codes: ratings.flatMap { $0 })
  }
}

struct BootstrapFile: Decodable {
  let generator: Generator
  let two_rater: [BootstrapTwoRaterCase]
  let fleiss: [BootstrapFleissCase]
}

struct BootstrapReference: Decodable {
  let low: Double
  let high: Double
  let undefined: Int
}

struct BootstrapTwoRaterCase: Decodable, CustomTestStringConvertible {
  let name: String
  let k: Int
  let a: [Int32]
  let b: [Int32]
  let samples: Int
  let seed: UInt64
  let weights: String
  let cohen: BootstrapReference
  let weighted: BootstrapReference
  var testDescription: String { name }
}

struct BootstrapFleissCase: Decodable, CustomTestStringConvertible {
  let name: String
  let k: Int
  let ratings: [[Int32]]
  let samples: Int
  let seed: UInt64
  let fleiss: BootstrapReference
  var testDescription: String { name }
}

struct MaskFile: Decodable {
  let generator: Generator
  let cases: [MaskCase]
}

struct MaskExpected: Decodable {
  let area_a: Int
  let area_b: Int
  let intersection: Int
  let dice: Double?
  let iou: Double?
  let nuclei_a: Int
  let nuclei_b: Int
  let tp: Int
  let matches: [[Double]]
  let precision: Double?
  let recall: Double?
  let f1: Double?
  let sq: Double?
  let dq: Double?
  let pq: Double?
  let aji: Double?
  let aji_plus: Double?
}

struct MaskCase: Decodable, CustomTestStringConvertible {
  let name: String
  let width: Int
  let height: Int
  let a: [Int32]
  let b: [Int32]
  let expected: MaskExpected
  var testDescription: String { name }
}

/// Loaded once per process: the parameterised tests read their arguments from these.
let twoRaterCases: [TwoRaterCase] = (try? Fixtures.load("two_rater", as: TwoRaterFile.self).cases) ?? []
let multiRaterCases: [MultiRaterCase] =
  (try? Fixtures.load("multi_rater", as: MultiRaterFile.self).cases) ?? []
let bootstrapFile: BootstrapFile? = try? Fixtures.load("bootstrap", as: BootstrapFile.self)
let maskCases: [MaskCase] = (try? Fixtures.load("masks", as: MaskFile.self).cases) ?? []

/// The fixtures' tolerance: 1e-6 absolute.
let tolerance = 1e-6

func close(_ x: Double?, _ y: Double?, _ tol: Double = tolerance) -> Bool {
  switch (x, y) {
  case (nil, nil): return true
  case (let x?, let y?): return abs(x - y) <= tol
  default: return false
  }
}

/// A published value given to `digits` decimals agrees with ours when ours rounds to it.
func roundsTo(_ x: Double, _ published: Double, digits: Int) -> Bool {
  let scale = pow(10.0, Double(digits))
  return abs(x - published) <= 0.5 / scale + 1e-12
}

@Suite struct FixtureFiles {
  @Test func fixturesLoadAndRecordTheirGenerator() throws {
    let two = try Fixtures.load("two_rater", as: TwoRaterFile.self)
    #expect(two.cases.count >= 8)
    #expect(two.generator.script == "tools/fixtures/make_agreement_fixtures.py")
    #expect(two.generator.versions["scikit-learn"] != nil)
    #expect(try Fixtures.load("multi_rater", as: MultiRaterFile.self).cases.count >= 5)
    #expect(try Fixtures.load("masks", as: MaskFile.self).cases.count >= 6)
    #expect(try Fixtures.load("bootstrap", as: BootstrapFile.self).two_rater.count >= 2)
  }
}
