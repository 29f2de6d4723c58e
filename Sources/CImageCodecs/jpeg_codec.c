// JPEG decode with libjpeg-turbo. See bv_codecs.h for why this is C.
//
// libjpeg reports fatal errors through error_exit and recoverable damage ("Corrupt JPEG
// data: ...", premature end of data) through emit_message as warnings, after which it goes
// on and fills the damaged part with grey. A review tool must not show such an image as if
// it were the file, so the warnings that mean damage are made fatal here; harmless ones
// (an unknown JFIF revision, a bad ICC chunk) are ignored. Nothing is ever printed.
#include "bv_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#define BV_STRINGIFY2(x) #x
#define BV_STRINGIFY(x) BV_STRINGIFY2(x)

const char *bv_jpeg_version(void) {
#ifdef LIBJPEG_TURBO_VERSION
  return BV_STRINGIFY(LIBJPEG_TURBO_VERSION);
#else
  return "libjpeg " BV_STRINGIFY(JPEG_LIB_VERSION);
#endif
}

/// A progressive file can hold thousands of tiny scans, each a full pass over the
/// coefficients: a cheap file that costs minutes. libjpeg-turbo's own tools stop at a
/// limit for the same reason; real encoders write about 10.
enum { MAX_SCANS = 1000 };

typedef struct {
  struct jpeg_error_mgr pub;  // first, so a j_common_ptr's err can be cast to this
  jmp_buf jump;
  bv_error *err;
  int truncated;
} jpeg_err_ctx;

static void error_exit_cb(j_common_ptr cinfo) {
  jpeg_err_ctx *e = (jpeg_err_ctx *)cinfo->err;
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  bv_status status = BV_CORRUPT;
  switch (cinfo->err->msg_code) {
    case JERR_BAD_PRECISION:
    case JERR_SOF_UNSUPPORTED:
    case JERR_NOT_COMPILED:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_ARITH_NOTIMPL:
      status = BV_UNSUPPORTED;
      break;
    case JERR_IMAGE_TOO_BIG:
      status = BV_TOO_LARGE;
      if (cinfo->is_decompressor) {
        j_decompress_ptr d = (j_decompress_ptr)cinfo;
        snprintf(text, sizeof text, "%ux%u", (unsigned)d->image_width, (unsigned)d->image_height);
        e->err->width = d->image_width;
        e->err->height = d->image_height;
      }
      break;
    case JERR_OUT_OF_MEMORY:
      status = BV_NO_MEMORY;
      break;
    default:
      break;
  }
  if (e->truncated) status = BV_TRUNCATED;
  e->err->status = status;
  snprintf(e->err->message, sizeof e->err->message, "%s", text);
  longjmp(e->jump, 1);
}

static void emit_message_cb(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  switch (cinfo->err->msg_code) {
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_EXTRANEOUS_DATA:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_JPEG_EOF:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_TOO_MUCH_DATA:
    case JWRN_ARITH_BAD_CODE:
      error_exit_cb(cinfo);  // damage: make it fatal (does not return)
      break;
    default:
      cinfo->err->num_warnings++;
      break;
  }
}

static void output_message_cb(j_common_ptr cinfo) { (void)cinfo; }

static void progress_cb(j_common_ptr cinfo) {
  if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > MAX_SCANS) {
    jpeg_err_ctx *e = (jpeg_err_ctx *)cinfo->err;
    e->err->status = BV_CORRUPT;
    snprintf(e->err->message, sizeof e->err->message, "more than %d progressive scans",
             MAX_SCANS);
    longjmp(e->jump, 1);
  }
}

// A source manager over a memory buffer that, unlike jpeg_mem_src, treats running out of
// data as an error instead of inventing an end-of-image marker.
static void init_source_cb(j_decompress_ptr cinfo) { (void)cinfo; }
static void term_source_cb(j_decompress_ptr cinfo) { (void)cinfo; }

static boolean fill_input_buffer_cb(j_decompress_ptr cinfo) {
  ((jpeg_err_ctx *)cinfo->err)->truncated = 1;
  ERREXIT(cinfo, JERR_INPUT_EOF);
  return FALSE;
}

static void skip_input_data_cb(j_decompress_ptr cinfo, long num_bytes) {
  if (num_bytes <= 0) return;
  struct jpeg_source_mgr *src = cinfo->src;
  if ((size_t)num_bytes > src->bytes_in_buffer) {
    ((jpeg_err_ctx *)cinfo->err)->truncated = 1;
    ERREXIT(cinfo, JERR_INPUT_EOF);
  }
  src->next_input_byte += num_bytes;
  src->bytes_in_buffer -= (size_t)num_bytes;
}

typedef struct {
  struct jpeg_decompress_struct cinfo;
  jpeg_err_ctx err;
  struct jpeg_source_mgr src;
  struct jpeg_progress_mgr progress;
  uint8_t *out;
  uint8_t *row;  // one CMYK row
} jpeg_ctx;

static void setup(jpeg_ctx *ctx, const uint8_t *data, size_t size, bv_error *err) {
  memset(ctx, 0, sizeof *ctx);
  ctx->cinfo.err = jpeg_std_error(&ctx->err.pub);
  ctx->err.pub.error_exit = error_exit_cb;
  ctx->err.pub.emit_message = emit_message_cb;
  ctx->err.pub.output_message = output_message_cb;
  ctx->err.err = err;
  ctx->src.next_input_byte = data;
  ctx->src.bytes_in_buffer = size;
  ctx->src.init_source = init_source_cb;
  ctx->src.fill_input_buffer = fill_input_buffer_cb;
  ctx->src.skip_input_data = skip_input_data_cb;
  ctx->src.resync_to_restart = jpeg_resync_to_restart;
  ctx->src.term_source = term_source_cb;
  ctx->progress.progress_monitor = progress_cb;
}

static int is_jpeg(const uint8_t *data, size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

bv_status bv_jpeg_probe(const uint8_t *data, size_t size, bv_header *out, bv_error *err) {
  if (!is_jpeg(data, size)) {
    snprintf(err->message, sizeof err->message, "not a JPEG signature");
    return err->status = BV_NOT_THIS_FORMAT;
  }
  jpeg_ctx *ctx = (jpeg_ctx *)malloc(sizeof *ctx);
  if (!ctx) {
    snprintf(err->message, sizeof err->message, "out of memory creating the JPEG reader");
    return err->status = BV_NO_MEMORY;
  }
  setup(ctx, data, size, err);
  if (setjmp(ctx->err.jump)) {
    jpeg_destroy_decompress(&ctx->cinfo);
    free(ctx);
    return err->status;
  }
  jpeg_create_decompress(&ctx->cinfo);
  ctx->cinfo.src = &ctx->src;
  ctx->cinfo.progress = &ctx->progress;
  jpeg_read_header(&ctx->cinfo, TRUE);
  out->width = ctx->cinfo.image_width;
  out->height = ctx->cinfo.image_height;
  out->channels = ctx->cinfo.jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
  jpeg_destroy_decompress(&ctx->cinfo);
  free(ctx);
  return BV_OK;
}

bv_status bv_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, bv_pixels *out,
                         bv_error *err) {
  memset(out, 0, sizeof *out);
  if (!is_jpeg(data, size)) {
    snprintf(err->message, sizeof err->message, "not a JPEG signature");
    return err->status = BV_NOT_THIS_FORMAT;
  }
  // The context (and so the jmp_buf and every owned buffer) lives on the heap: after a
  // longjmp, cleanup reads only memory that the jump cannot have left stale.
  jpeg_ctx *ctx = (jpeg_ctx *)malloc(sizeof *ctx);
  if (!ctx) {
    snprintf(err->message, sizeof err->message, "out of memory creating the JPEG reader");
    return err->status = BV_NO_MEMORY;
  }
  setup(ctx, data, size, err);
  if (setjmp(ctx->err.jump)) {
    jpeg_destroy_decompress(&ctx->cinfo);
    free(ctx->out);
    free(ctx->row);
    free(ctx);
    return err->status;
  }
  jpeg_create_decompress(&ctx->cinfo);
  j_decompress_ptr cinfo = &ctx->cinfo;
  cinfo->src = &ctx->src;
  cinfo->progress = &ctx->progress;
  jpeg_read_header(cinfo, TRUE);

  uint32_t width = cinfo->image_width, height = cinfo->image_height;
  if ((uint64_t)width * (uint64_t)height > max_pixels) {
    // Checked on the header, before libjpeg or we allocate any pixel memory.
    snprintf(err->message, sizeof err->message, "%ux%u", (unsigned)width, (unsigned)height);
    err->status = BV_TOO_LARGE;
    err->width = width;
    err->height = height;
    longjmp(ctx->err.jump, 1);
  }
  int cmyk = 0, channels = 3;
  switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
      cinfo->out_color_space = JCS_GRAYSCALE;
      channels = 1;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      cinfo->out_color_space = JCS_RGB;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      cinfo->out_color_space = JCS_CMYK;
      cmyk = 1;
      break;
    default:
      snprintf(err->message, sizeof err->message, "JPEG colour space with %d components",
               cinfo->num_components);
      err->status = BV_UNSUPPORTED;
      longjmp(ctx->err.jump, 1);
  }
  jpeg_start_decompress(cinfo);
  if (cinfo->output_width != width || cinfo->output_height != height ||
      cinfo->output_components != (cmyk ? 4 : channels)) {
    snprintf(err->message, sizeof err->message, "unexpected JPEG output layout");
    err->status = BV_UNSUPPORTED;
    longjmp(ctx->err.jump, 1);
  }
  size_t stride = (size_t)width * (size_t)channels;
  ctx->out = (uint8_t *)malloc(stride * height);
  if (cmyk) ctx->row = (uint8_t *)malloc((size_t)width * 4);
  if (!ctx->out || (cmyk && !ctx->row)) {
    snprintf(err->message, sizeof err->message, "out of memory for JPEG pixels");
    err->status = BV_NO_MEMORY;
    longjmp(ctx->err.jump, 1);
  }
  // Photoshop and libjpeg itself write CMYK with an Adobe APP14 marker and the ink values
  // inverted (0 = full ink); without the marker the values are taken as plain ink.
  int inverted = cinfo->saw_Adobe_marker;
  while (cinfo->output_scanline < height) {
    uint8_t *dst = ctx->out + (size_t)cinfo->output_scanline * stride;
    JSAMPROW rowp = cmyk ? ctx->row : dst;
    if (jpeg_read_scanlines(cinfo, &rowp, 1) != 1) {
      ctx->err.truncated = 1;
      ERREXIT(cinfo, JERR_INPUT_EOF);
    }
    if (cmyk) {
      const uint8_t *s = ctx->row;
      for (uint32_t x = 0; x < width; x++, s += 4, dst += 3) {
        unsigned k = inverted ? s[3] : 255u - s[3];  // k here is "no ink" (white) amount
        for (int c = 0; c < 3; c++) {
          unsigned v = inverted ? s[c] : 255u - s[c];
          dst[c] = (uint8_t)((v * k + 127u) / 255u);
        }
      }
    }
  }
  jpeg_finish_decompress(cinfo);  // reads up to EOI: a file cut before it is truncated
  jpeg_destroy_decompress(cinfo);
  out->data = ctx->out;
  out->width = width;
  out->height = height;
  out->channels = channels;
  free(ctx->row);
  free(ctx);
  return BV_OK;
}
