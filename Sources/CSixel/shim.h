// libsixel (DESIGN §6, §8). LIBSIXEL_VERSION is a string macro Swift imports as a constant.
#ifndef BLASTVIEW_CSIXEL_SHIM_H
#define BLASTVIEW_CSIXEL_SHIM_H
#include <sixel.h>
static inline const char *bv_sixel_version(void) { return LIBSIXEL_VERSION; }
#endif
