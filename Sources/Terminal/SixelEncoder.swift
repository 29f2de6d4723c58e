import CSixel
import Imaging

/// Encodes RGB images as sixel (DEC's bitmap graphics) through libsixel.
///
/// Palette: sixel terminals have a limited number of colour registers (xterm's vt340 default
/// is 16; `XTerm*numColorRegisters: 256` and most modern terminals offer 256 or more). A blood
/// smear is mostly pink, purple and pale background, so a palette chosen for the image with
/// error diffusion looks faithful with far fewer colours than 256: DESIGN §8 measured 64
/// colours at about 60 % of the bytes and time of 256. `defaultColors` is that choice; the
/// renderer lowers it to the terminal's register count when XTSMGRAPHICS reports fewer.
public enum SixelEncoder {
  public static let defaultColors = 64

  public struct Failure: Error, CustomStringConvertible {
    public let step: String
    public let status: Int32
    public var description: String { "libsixel \(step) failed (status \(status))" }
  }

  /// Collects libsixel's output chunks.
  private final class Sink {
    var bytes: [UInt8] = []
  }

  /// The sixel bytes (a complete DCS … ST sequence) for `image` with at most `colors`
  /// palette entries (2…256).
  public static func encode(_ image: RGBImage, colors: Int = defaultColors) throws(Failure) -> [UInt8] {
    guard image.width > 0, image.height > 0 else { return [] }
    let sink = Sink()
    sink.bytes.reserveCapacity(image.width * image.height / 2)
    let unmanaged = Unmanaged.passRetained(sink)
    defer { unmanaged.release() }

    var output: OpaquePointer?
    var status = sixel_output_new(
      &output,
      { data, size, priv in
        guard let data, let priv, size > 0 else { return 0 }
        let sink = Unmanaged<Sink>.fromOpaque(priv).takeUnretainedValue()
        data.withMemoryRebound(to: UInt8.self, capacity: Int(size)) {
          sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: Int(size)))
        }
        return size
      }, unmanaged.toOpaque(), nil)
    guard status == SIXEL_OK, let output else { throw Failure(step: "sixel_output_new", status: status) }
    defer { sixel_output_unref(output) }
    sixel_output_set_encode_policy(output, SIXEL_ENCODEPOLICY_SIZE)

    var dither: OpaquePointer?
    status = sixel_dither_new(&dither, Int32(max(2, min(256, colors))), nil)
    guard status == SIXEL_OK, let dither else { throw Failure(step: "sixel_dither_new", status: status) }
    defer { sixel_dither_unref(dither) }

    var pixels = image.pixels
    status = pixels.withUnsafeMutableBufferPointer { buffer in
      sixel_dither_initialize(
        dither, buffer.baseAddress, Int32(image.width), Int32(image.height),
        SIXEL_PIXELFORMAT_RGB888, SIXEL_LARGE_AUTO, SIXEL_REP_AUTO, SIXEL_QUALITY_AUTO)
    }
    guard status == SIXEL_OK else { throw Failure(step: "sixel_dither_initialize", status: status) }
    sixel_dither_set_diffusion_type(dither, SIXEL_DIFFUSE_ATKINSON)

    status = pixels.withUnsafeMutableBufferPointer { buffer in
      sixel_encode(buffer.baseAddress, Int32(image.width), Int32(image.height), 3, dither, output)
    }
    guard status == SIXEL_OK else { throw Failure(step: "sixel_encode", status: status) }
    return sink.bytes
  }
}
