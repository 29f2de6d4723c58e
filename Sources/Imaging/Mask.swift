/// An 8-bit single-channel mask, row-major. Nucleus masks use 0 for background and
/// 255 for nucleus; the expert `wbc-seg` masks also use 128 for cytoplasm.
public struct Mask: Equatable, Sendable {
  public let width: Int
  public let height: Int
  public var values: [UInt8]

  public init(width: Int, height: Int, values: [UInt8]) {
    precondition(width >= 0 && height >= 0 && values.count == width * height)
    self.width = width
    self.height = height
    self.values = values
  }

  public init(width: Int, height: Int, fill: UInt8 = 0) {
    self.init(width: width, height: height, values: [UInt8](repeating: fill, count: width * height))
  }

  @inlinable public subscript(x: Int, y: Int) -> UInt8 {
    get { values[y * width + x] }
    set { values[y * width + x] = newValue }
  }
}
