// PNG decode and encode with libpng. See bv_codecs.h for why this is C.
//
// setjmp discipline: everything a longjmp must clean up lives in a context struct whose
// address is handed to libpng (so it is kept in memory, never in a register), and cleanup
// after a jump reads only that struct.
#include "bv_codecs.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bv_free(void *p) { free(p); }

const char *bv_png_runtime_version(void) { return png_get_libpng_ver(NULL); }

static void set_error(bv_error *err, bv_status status, const char *message) {
  err->status = status;
  snprintf(err->message, sizeof err->message, "%s", message);
}

typedef struct {
  const uint8_t *data;
  size_t size;
  size_t offset;
  int truncated;        // the read callback ran out of data
  bv_error *err;
  // Owned buffers, freed on every path.
  uint8_t *rows;        // decoded rows, libpng's layout after transforms
  png_bytep *row_pointers;
  uint8_t *out;         // the gray8/RGB8 result, handed to the caller on success
  // libpng's own allocations go through png_malloc_cb/png_free_cb: counted, and refused past
  // `mem_limit`, so no chunk length or header field can make libpng allocate more than that.
  size_t mem_current;
  size_t mem_peak;
  size_t mem_limit;
} png_read_ctx;

/// What libpng may hold while it reads the chunks before the image data (its structs, zlib's
/// inflate state and window, PLTE and tRNS): far above what a valid file needs there, far
/// below what a hostile chunk length could ask for. Row buffers are added once the header's
/// size has passed the pixel limit.
enum { PNG_HEADER_BUDGET = 8 << 20 };

/// The largest chunk libpng will read into memory (other than IDAT, which it streams). The
/// ancillary chunks that would need big buffers (text, ICC profiles, sPLT, eXIf) are skipped
/// without being read into memory (see configure_reader), so this only bounds what is left.
enum { PNG_CHUNK_MALLOC_MAX = 1 << 20 };

// Each block carries its size in front of it so the free callback can count it.
typedef union {
  size_t size;
  max_align_t align;
} png_block_header;

static png_voidp png_malloc_cb(png_structp png, png_alloc_size_t size) {
  png_read_ctx *ctx = (png_read_ctx *)png_get_mem_ptr(png);
  if (size > ctx->mem_limit - ctx->mem_current) return NULL;  // libpng reports out of memory
  png_block_header *block = (png_block_header *)malloc(sizeof(png_block_header) + size);
  if (!block) return NULL;
  block->size = size;
  ctx->mem_current += size;
  if (ctx->mem_current > ctx->mem_peak) ctx->mem_peak = ctx->mem_current;
  return block + 1;
}

static void png_free_cb(png_structp png, png_voidp p) {
  if (!p) return;
  png_read_ctx *ctx = (png_read_ctx *)png_get_mem_ptr(png);
  png_block_header *block = (png_block_header *)p - 1;
  ctx->mem_current -= block->size;
  free(block);
}

static void read_cb(png_structp png, png_bytep out, size_t n) {
  png_read_ctx *ctx = (png_read_ctx *)png_get_io_ptr(png);
  if (ctx->size - ctx->offset < n) {
    ctx->truncated = 1;
    png_error(png, "file ends before the image does");
  }
  memcpy(out, ctx->data + ctx->offset, n);
  ctx->offset += n;
}

static void error_cb(png_structp png, png_const_charp message) {
  png_read_ctx *ctx = (png_read_ctx *)png_get_error_ptr(png);
  set_error(ctx->err, ctx->truncated ? BV_TRUNCATED : BV_CORRUPT, message);
  png_longjmp(png, 1);
}

// libpng prints warnings to stderr by default; a library must not write to the terminal.
static void warning_cb(png_structp png, png_const_charp message) {
  (void)png;
  (void)message;
}

static void free_read_ctx(png_read_ctx *ctx) {
  free(ctx->rows);
  free(ctx->row_pointers);
  free(ctx->out);
  ctx->rows = NULL;
  ctx->row_pointers = NULL;
  ctx->out = NULL;
}

// Sets up a read struct, with strict CRC handling and no per-dimension limit of libpng's
// own (the caller's pixel limit decides, so the error can say how large the image is).
static png_structp create_reader(png_read_ctx *ctx, png_infop *info) {
  ctx->mem_limit = PNG_HEADER_BUDGET;
  png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, ctx, error_cb, warning_cb, ctx,
                                             png_malloc_cb, png_free_cb);
  if (!png) return NULL;
  *info = png_create_info_struct(png);
  if (!*info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return NULL;
  }
  return png;
}

static void configure_reader(png_structp png, png_read_ctx *ctx) {
  png_set_read_fn(png, ctx, read_cb);
  png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  png_set_user_limits(png, 0x7fffffffU, 0x7fffffffU);
  // A chunk's declared length is never trusted with an allocation: chunks we do not use
  // (every ancillary one: text, ICC, sPLT, eXIf, ... and unknown ones) are skipped by
  // reading through them in a small stack buffer, and anything else libpng would cache is
  // capped. Before this, a 69-byte file whose tEXt chunk declared 2 GiB cost 2 GB.
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
  png_set_chunk_malloc_max(png, PNG_CHUNK_MALLOC_MAX);
  png_set_chunk_cache_max(png, 128);
}

bv_status bv_png_probe(const uint8_t *data, size_t size, bv_header *out, bv_error *err) {
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
    set_error(err, BV_NOT_THIS_FORMAT, "not a PNG signature");
    return err->status;
  }
  png_read_ctx ctx = {data, size, 0, 0, err, NULL, NULL, NULL, 0, 0, 0};
  png_infop info = NULL;
  png_structp png = create_reader(&ctx, &info);
  if (!png) {
    set_error(err, BV_NO_MEMORY, "out of memory creating the PNG reader");
    return err->status;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    err->peak_bytes = ctx.mem_peak;
    return err->status;
  }
  configure_reader(png, &ctx);
  png_read_info(png, info);
  int color = png_get_color_type(png, info);
  out->width = png_get_image_width(png, info);
  out->height = png_get_image_height(png, info);
  out->channels = (color & PNG_COLOR_MASK_COLOR) ? 3 : 1;
  png_destroy_read_struct(&png, &info, NULL);
  return BV_OK;
}

// Alpha over white: out = (c*a + 255*(255-a)) / 255, rounded.
static inline uint8_t over_white(unsigned c, unsigned a) {
  return (uint8_t)((c * a + 255u * (255u - a) + 127u) / 255u);
}

bv_status bv_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, bv_pixels *out,
                        bv_error *err) {
  memset(out, 0, sizeof *out);
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
    set_error(err, BV_NOT_THIS_FORMAT, "not a PNG signature");
    return err->status;
  }
  png_read_ctx ctx = {data, size, 0, 0, err, NULL, NULL, NULL, 0, 0, 0};
  png_infop info = NULL;
  png_structp png = create_reader(&ctx, &info);
  if (!png) {
    set_error(err, BV_NO_MEMORY, "out of memory creating the PNG reader");
    return err->status;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    free_read_ctx(&ctx);
    err->peak_bytes = ctx.mem_peak;
    return err->status;
  }
  configure_reader(png, &ctx);
  png_read_info(png, info);

  png_uint_32 width = png_get_image_width(png, info);
  png_uint_32 height = png_get_image_height(png, info);
  if ((uint64_t)width * (uint64_t)height > max_pixels) {
    // Checked on the header, before any pixel memory exists.
    snprintf(err->message, sizeof err->message, "%ux%u", (unsigned)width, (unsigned)height);
    err->status = BV_TOO_LARGE;
    err->width = width;
    err->height = height;
    png_destroy_read_struct(&png, &info, NULL);
    return BV_TOO_LARGE;
  }
  // Row buffers: libpng keeps a current and a previous row (plus interlace and transform
  // rows) of at most 8 bytes per pixel (16-bit RGBA) each.
  ctx.mem_limit += 4 * ((size_t)width * 8 + 64);

  int color = png_get_color_type(png, info);
  int depth = png_get_bit_depth(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (depth == 16) png_set_scale_16(png);  // rounds; png_set_strip_16 would truncate
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  size_t rowbytes = png_get_rowbytes(png, info);
  int channels = png_get_channels(png, info);  // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  if (png_get_bit_depth(png, info) != 8 || channels < 1 || channels > 4 ||
      rowbytes != (size_t)width * (size_t)channels) {
    set_error(err, BV_UNSUPPORTED, "PNG layout after conversion is not 8-bit");
    png_destroy_read_struct(&png, &info, NULL);
    return err->status;
  }
  int out_channels = channels <= 2 ? 1 : 3;
  size_t pixels = (size_t)width * (size_t)height;
  ctx.rows = (uint8_t *)malloc(rowbytes * height);
  ctx.row_pointers = (png_bytep *)malloc(sizeof(png_bytep) * height);
  if (!ctx.rows || !ctx.row_pointers) {
    set_error(err, BV_NO_MEMORY, "out of memory for PNG rows");
    png_destroy_read_struct(&png, &info, NULL);
    free_read_ctx(&ctx);
    return err->status;
  }
  for (png_uint_32 y = 0; y < height; y++) ctx.row_pointers[y] = ctx.rows + (size_t)y * rowbytes;
  png_read_image(png, ctx.row_pointers);
  png_read_end(png, NULL);  // checks the trailing chunks' CRCs and that IEND is there
  png_destroy_read_struct(&png, &info, NULL);
  out->library_peak_bytes = ctx.mem_peak;

  if (channels == out_channels) {
    // Already gray8 or RGB8, and rows are unpadded: hand the buffer over as is.
    ctx.out = ctx.rows;
    ctx.rows = NULL;
  } else {
    ctx.out = (uint8_t *)malloc(pixels * (size_t)out_channels);
    if (!ctx.out) {
      set_error(err, BV_NO_MEMORY, "out of memory for PNG pixels");
      free_read_ctx(&ctx);
      return err->status;
    }
    const uint8_t *s = ctx.rows;
    uint8_t *d = ctx.out;
    if (channels == 2) {
      for (size_t i = 0; i < pixels; i++, s += 2) *d++ = over_white(s[0], s[1]);
    } else {
      for (size_t i = 0; i < pixels; i++, s += 4) {
        *d++ = over_white(s[0], s[3]);
        *d++ = over_white(s[1], s[3]);
        *d++ = over_white(s[2], s[3]);
      }
    }
  }
  out->data = ctx.out;
  out->width = width;
  out->height = height;
  out->channels = out_channels;
  ctx.out = NULL;
  free_read_ctx(&ctx);
  return BV_OK;
}

// Encoding --------------------------------------------------------------------------------

typedef struct {
  uint8_t *data;
  size_t size;
  size_t capacity;
  bv_error *err;
  png_bytep *row_pointers;
} png_write_ctx;

static void write_error_cb(png_structp png, png_const_charp message) {
  png_write_ctx *ctx = (png_write_ctx *)png_get_error_ptr(png);
  set_error(ctx->err, BV_CORRUPT, message);
  png_longjmp(png, 1);
}

static void write_cb(png_structp png, png_bytep bytes, size_t n) {
  png_write_ctx *ctx = (png_write_ctx *)png_get_io_ptr(png);
  if (ctx->capacity - ctx->size < n) {
    size_t capacity = ctx->capacity ? ctx->capacity : 4096;
    while (capacity - ctx->size < n) capacity *= 2;
    uint8_t *grown = (uint8_t *)realloc(ctx->data, capacity);
    if (!grown) png_error(png, "out of memory for the encoded PNG");
    ctx->data = grown;
    ctx->capacity = capacity;
  }
  memcpy(ctx->data + ctx->size, bytes, n);
  ctx->size += n;
}

static void flush_cb(png_structp png) { (void)png; }

bv_status bv_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                        uint8_t **out_data, size_t *out_size, bv_error *err) {
  *out_data = NULL;
  *out_size = 0;
  if (width == 0 || height == 0 || (channels != 1 && channels != 3)) {
    set_error(err, BV_UNSUPPORTED, "PNG needs a non-empty gray or RGB image");
    return err->status;
  }
  png_write_ctx ctx = {NULL, 0, 0, err, NULL};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, write_error_cb, warning_cb);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) {
    png_destroy_write_struct(&png, NULL);
    set_error(err, BV_NO_MEMORY, "out of memory creating the PNG writer");
    return err->status;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    free(ctx.data);
    free(ctx.row_pointers);
    return err->status;
  }
  ctx.row_pointers = (png_bytep *)malloc(sizeof(png_bytep) * height);
  if (!ctx.row_pointers) png_error(png, "out of memory for PNG rows");
  size_t stride = (size_t)width * (size_t)channels;
  for (uint32_t y = 0; y < height; y++) ctx.row_pointers[y] = (png_bytep)(pixels + y * stride);
  png_set_write_fn(png, &ctx, write_cb, flush_cb);
  png_set_IHDR(png, info, width, height, 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, ctx.row_pointers);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(ctx.row_pointers);
  *out_data = ctx.data;
  *out_size = ctx.size;
  return BV_OK;
}
