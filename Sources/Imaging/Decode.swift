import CImageCodecs

// Public decoding API. The format comes from the magic bytes, never the file name.
// PNG and JPEG go through libpng and libjpeg-turbo (in C, see `CImageCodecs`); BMP is
// parsed here. All of them check width*height against `DecodeLimits.maxPixels` on the
// header, before any pixel memory is allocated.

/// Size and format from the header only; no pixels are decoded.
public func probeImage(at path: String) throws(ImageError) -> ImageInfo {
  let data = try readImageFile(path, maxBytes: DecodeLimits.default.maxFileBytes)
  return try probeImage(data: data, name: path)
}

/// Size and format of an in-memory file; `name` is used in errors.
public func probeImage(data: [UInt8], name: String) throws(ImageError) -> ImageInfo {
  switch try sniffFormat(data, name: name) {
  case .png: return try CodecBridge.probe(data, name: name, format: .png, with: bv_png_probe)
  case .jpeg: return try CodecBridge.probe(data, name: name, format: .jpeg, with: bv_jpeg_probe)
  case .bmp: return try BMPDecoder.probe(data, name: name)
  }
}

/// Decodes a PNG, JPEG or BMP file to RGB8 (gray is widened, alpha composited over white,
/// 16-bit scaled to 8, CMYK converted).
public func decodeImage(at path: String, limits: DecodeLimits = .default) throws(ImageError)
  -> RGBImage
{
  let data = try readImageFile(path, maxBytes: limits.maxFileBytes)
  return try decodeImage(data: data, name: path, limits: limits)
}

/// Decodes an in-memory file to RGB8; `name` is used in errors.
public func decodeImage(data: [UInt8], name: String, limits: DecodeLimits = .default)
  throws(ImageError) -> RGBImage
{
  try decodePixels(data, name: name, limits: limits).rgbImage()
}

/// Decodes a mask: a gray file gives its values unchanged (the wbc-seg masks' 0/128/255),
/// an RGB one its BT.601 luma.
public func decodeMask(at path: String, limits: DecodeLimits = .default) throws(ImageError)
  -> Mask
{
  let data = try readImageFile(path, maxBytes: limits.maxFileBytes)
  return try decodeMask(data: data, name: path, limits: limits)
}

/// Decodes an in-memory mask file; `name` is used in errors.
public func decodeMask(data: [UInt8], name: String, limits: DecodeLimits = .default)
  throws(ImageError) -> Mask
{
  try decodePixels(data, name: name, limits: limits).mask()
}

func decodePixels(_ data: [UInt8], name: String, limits: DecodeLimits) throws(ImageError)
  -> DecodedPixels
{
  switch try sniffFormat(data, name: name) {
  case .png: return try CodecBridge.decode(data, name: name, limits: limits, with: bv_png_decode)
  case .jpeg: return try CodecBridge.decode(data, name: name, limits: limits, with: bv_jpeg_decode)
  case .bmp: return try BMPDecoder.decode(data, name: name, limits: limits)
  }
}

func sniffFormat(_ data: [UInt8], name: String) throws(ImageError) -> ImageFormat {
  if data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
  if data.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
  if BMPDecoder.isBMP(data) { return .bmp }
  if let other = ImageFormat.otherFormatName(data) {
    throw ImageError(path: name, reason: .unsupported("\(other) images"))
  }
  if data.isEmpty { throw ImageError(path: name, reason: .corrupt("the file is empty")) }
  throw ImageError(path: name, reason: .notAnImage)
}
