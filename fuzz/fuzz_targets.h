// The fuzz targets (docs/reliability.md, "Fuzzing"): each feeds one input's bytes to a real entry
// point of moevit that reads untrusted data, and returns whether the input was accepted (true)
// or refused with one of our expected errors (false: any std::exception, c10::Error included).
// Everything else is a finding: a crash, a sanitizer report, a hang, an allocation bomb
// (std::bad_alloc, or libFuzzer's -malloc_limit_mb) or a broken invariant (report_finding).
//
// One scheme, two builds:
//   fuzz/fuzz_<name>.cpp defines `bool moevit::fuzz_<name>(const uint8_t*, size_t)`. Together
//   with fuzz/harness.cpp and fuzz/target_table.cpp they make the library moevit_fuzz_targets,
//   built by every build. Only fuzz/libfuzzer_entry.cpp names libFuzzer.
//   make test: moevit_app_tests links that library and replays each file of
//     fuzz/corpus/<name>/ through the function fuzz_targets() lists under <name>
//     (tests/fuzz/corpus_replay_test.cpp). Seeds named valid-* must be accepted.
//   make fuzz (cmake -DMOEVIT_FUZZ=ON, clang): fuzz/libfuzzer_entry.cpp is compiled once per
//     target with -DMOEVIT_FUZZ_ENTRY=fuzz_<name> into the executable fuzz_<name>, whose
//     LLVMFuzzerTestOneInput calls that one function (scripts/fuzz.sh runs them).
// A new target: the file fuzz/fuzz_<name>.cpp, its declaration and row here, seeds in
// fuzz/corpus/<name>/ (scripts/make-fuzz-seeds.sh). CMake finds the file by its name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace moevit {

// The bytes of an image file: the header sniffer, then the PNG/JPEG integrity check
// (datasets/image_header.h).
bool fuzz_image_header(const uint8_t* data, size_t size);
// The bytes of an image file: decode_image (header, size guard, OpenCV) into 1 or 3 channels,
// then the train or eval transforms with options drawn from the input's hash
// (datasets/decode.h, datasets/transforms.h).
bool fuzz_image_decode(const uint8_t* data, size_t size);
// The bytes of an IDX file, raw or gzip: read as images, and as labels (datasets/idx.h).
bool fuzz_idx(const uint8_t* data, size_t size);
// YAML config text, then optionally '\0' and `--set` overrides separated by '\0'
// ("key=value"): parse_config, and the dump_config round trip (app/run/config.h).
bool fuzz_config(const uint8_t* data, size_t size);
// The bytes of a .safetensors file: read_safetensors, and the write/read round trip
// (app/pretrained/safetensors.h).
bool fuzz_safetensors(const uint8_t* data, size_t size);
// The bytes of a checkpoint (a LibTorch archive): its state, its config, then for a tiny model
// load_model and one forward pass (app/run/checkpoint.h, app/run/model_loading.h).
bool fuzz_checkpoint(const uint8_t* data, size_t size);

struct FuzzTarget {
  const char* name;  // the folder of its seeds, fuzz/corpus/<name>, e.g. "config"
  bool (*run)(const uint8_t* data, size_t size);
};

// Every target above, in this order.
const std::vector<FuzzTarget>& fuzz_targets();

}  // namespace moevit
