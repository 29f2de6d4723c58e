// libpng. Error handling uses setjmp/longjmp, which Swift cannot call safely; any
// function that may longjmp is wrapped here in C so the jump never crosses Swift frames.
#ifndef BLASTVIEW_CPNG_SHIM_H
#define BLASTVIEW_CPNG_SHIM_H
#include <png.h>
static inline const char *bv_png_version(void) { return PNG_LIBPNG_VER_STRING; }
#endif
