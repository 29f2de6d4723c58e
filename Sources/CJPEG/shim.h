// libjpeg-turbo. jpeglib.h needs stdio.h first. Its error manager longjmps; wrap every
// call that may fail in C here so the jump never crosses Swift frames.
#ifndef BLASTVIEW_CJPEG_SHIM_H
#define BLASTVIEW_CJPEG_SHIM_H
#include <stdio.h>
#include <stddef.h>
#include <jpeglib.h>
static inline int bv_jpeg_lib_version(void) { return JPEG_LIB_VERSION; }
#endif
