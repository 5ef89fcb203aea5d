// libFuzzer's entry point for one target, compiled once per target by the MOEVIT_FUZZ build with
// -DMOEVIT_FUZZ_ENTRY=fuzz_<name> (CMakeLists.txt; the scheme is in fuzz/fuzz_targets.h).
#include "fuzz/fuzz_targets.h"

#ifndef MOEVIT_FUZZ_ENTRY
#error "compile with -DMOEVIT_FUZZ_ENTRY=fuzz_<name>, one of fuzz/fuzz_targets.h"
#endif

// Always 0: a refused input stays in the corpus, as its error paths are coverage too.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  moevit::MOEVIT_FUZZ_ENTRY(data, size);
  return 0;
}
