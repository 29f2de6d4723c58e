// BlastView's PNG and JPEG codecs: thin C wrappers around libpng and libjpeg-turbo.
//
// Why a C target and not `static inline` functions in the CPNG/CJPEG shim headers: both
// libraries report errors by longjmp()ing out of their error callbacks. A longjmp that
// crosses a Swift frame skips Swift's releases and defers and is undefined behaviour. So
// every call that may jump, from setjmp() to the last library call, lives in the C files of
// this target; Swift only ever sees a status code and a message in `bv_error`. Keeping the
// code in .c files (rather than inline in a header Swift imports) also compiles it once, with
// C warnings, and keeps libpng's and libjpeg's headers out of every Swift module that
// imports the shims.
//
// Memory: a decoder checks the header's pixel count against the caller's limit *before* it
// allocates any pixel memory; the caller frees `bv_pixels.data` with `bv_free`. No other
// field of a file (a chunk or marker length) decides an allocation: libpng allocates through
// a counting allocator capped at 8 MiB plus its row buffers, skips every ancillary chunk
// without reading it into memory, and libjpeg's memory is capped by `max_memory_to_use`
// (see docs/imaging.md, "Memory ceiling").
#ifndef BLASTVIEW_BV_CODECS_H
#define BLASTVIEW_BV_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Outcome of a codec call. `BV_OK` is 0; everything else comes with a message.
typedef enum {
  BV_OK = 0,
  BV_NOT_THIS_FORMAT = 1,  ///< magic bytes do not match
  BV_CORRUPT = 2,          ///< the library rejected the data
  BV_TRUNCATED = 3,        ///< the data ended before the image did
  BV_UNSUPPORTED = 4,      ///< a valid file of a variant we do not decode
  BV_TOO_LARGE = 5,        ///< width*height is above the caller's limit
  BV_NO_MEMORY = 6,        ///< malloc failed
} bv_status;

/// Error details filled by every call that fails.
typedef struct {
  bv_status status;
  uint32_t width;   ///< the header's size, for BV_TOO_LARGE
  uint32_t height;
  char message[200];
  /// PNG: the most bytes libpng held at once before the failure (its own accounting).
  uint64_t peak_bytes;
} bv_error;

/// A header: size, and the channel count the decoder will hand back (1 gray, 3 RGB).
typedef struct {
  uint32_t width;
  uint32_t height;
  int channels;
} bv_header;

/// Decoded pixels: `width*height*channels` bytes, row-major, no padding.
/// Channels are 1 (gray) for gray sources and 3 (RGB) for everything else; alpha is
/// composited over white, 16-bit samples are scaled to 8 bits with rounding and CMYK is
/// converted to RGB, so callers handle only these two layouts.
typedef struct {
  uint8_t *data;
  uint32_t width;
  uint32_t height;
  int channels;
  /// PNG: the most bytes libpng itself held at once while decoding (pixel buffers excluded).
  uint64_t library_peak_bytes;
} bv_pixels;

/// Frees `bv_pixels.data` or a buffer returned by `bv_png_encode`. NULL is allowed.
void bv_free(void *p);

// PNG ------------------------------------------------------------------------------------

/// Reads the header (IHDR and any chunks before the first IDAT) only.
bv_status bv_png_probe(const uint8_t *data, size_t size, bv_header *out, bv_error *err);
/// Decodes every PNG variant (gray 1-16 bit, palette with or without tRNS, gray+alpha, RGB,
/// RGBA, 8/16 bit, Adam7 interlaced) to gray8 or RGB8. Refuses more than `max_pixels`
/// before allocating. Strict: CRC errors in any chunk and a missing IEND are errors.
bv_status bv_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, bv_pixels *out,
                        bv_error *err);
/// Encodes 8-bit gray (`channels` 1) or RGB (`channels` 3) rows to a PNG in memory.
/// Deterministic: no time or text chunks, so equal pixels give equal bytes.
bv_status bv_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                        uint8_t **out_data, size_t *out_size, bv_error *err);
/// The libpng version the program runs with (e.g. "1.6.39").
const char *bv_png_runtime_version(void);

// JPEG -----------------------------------------------------------------------------------

/// Reads the header (markers up to the first SOS) only.
bv_status bv_jpeg_probe(const uint8_t *data, size_t size, bv_header *out, bv_error *err);
/// Decodes baseline, progressive and arithmetic-coded 8-bit JPEGs: gray to gray8; YCbCr/RGB
/// to RGB8; CMYK and YCCK to RGB8 (Adobe-inverted CMYK is recognised by its APP14 marker).
/// Refuses more than `max_pixels` before allocating. Strict: a premature end of data and
/// libjpeg's "corrupt data" warnings are errors, so a damaged file never shows as an image.
bv_status bv_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, bv_pixels *out,
                         bv_error *err);
/// The libjpeg-turbo version compiled against (e.g. "2.1.5"); libjpeg has no runtime query.
const char *bv_jpeg_version(void);

#ifdef __cplusplus
}
#endif
#endif
