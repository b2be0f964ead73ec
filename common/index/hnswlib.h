#pragma once

// hnswlib, included once for everything here. With AVX-512 enabled (-march=native on a CPU
// that has it), GCC 12 reports its own _mm512_reduce_add_ps, inlined into hnswlib's distance
// kernel, as reading an uninitialised value (GCC bug 105593, a false positive in the
// intrinsic headers); it is not ours or hnswlib's to fix, and -Werror must not stop on it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning (clang builds the fuzzers)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <hnswlib/hnswlib.h>
#pragma GCC diagnostic pop
