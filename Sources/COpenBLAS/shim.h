// OpenBLAS's CBLAS interface (DESIGN §8: pkg-config `openblas`; there is no cblas.pc).
// cblas.h also declares openblas_get_config/corename and the thread-count setters.
#ifndef BLASTVIEW_COPENBLAS_SHIM_H
#define BLASTVIEW_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
