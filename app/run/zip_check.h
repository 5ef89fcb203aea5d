// A zip archive (PKWARE APPNOTE 6.3) read as untrusted input, checked before a reader that
// trusts it opens it. LibTorch's archives, our checkpoints among them, are zip files written by
// miniz: each member stored (tensor data, 64-byte aligned) or deflated (TorchScript code), its
// CRC-32 in the central directory. LibTorch reads them with miniz built with
// MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS (set in PyTorch's CMake), so a flipped bit in a tensor
// loads as a wrong weight without a word; and its reader trusts the directory's offsets and
// sizes. This check reads the directory itself, bounds every member by the file, and compares
// every member's bytes with its CRC-32, so LibTorch only ever parses an archive whose bytes are
// the ones its writer wrote.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace moevit {

struct ZipMember {
  std::string name;              // e.g. "archive/data/3"
  uint64_t entry_offset = 0;     // the first byte of its central directory header in the file
  uint64_t header_offset = 0;    // the first byte of its local header in the file
  uint64_t data_offset = 0;      // the first byte of its (compressed) data
  uint64_t compressed_size = 0;  // bytes of data in the file
  uint64_t size = 0;             // bytes once inflated (= compressed_size when stored)
  uint32_t crc32 = 0;            // of the inflated bytes, as the central directory records it
  uint16_t method = 0;           // 0 stored, 8 deflated
};

// The members the central directory lists, in its order, each checked against its local header
// (signature, name, method) and the file (its header and data before the directory, no two
// overlapping, no name twice). Zip64 records are followed. Throws std::runtime_error
// "<error_prefix>: <what is wrong>", one line, e.g. for a truncated file
// "runs/a/last.pt: not a readable moevit checkpoint: no zip end-of-directory record in its
// 4096 bytes (truncated, or not a zip archive)".
std::vector<ZipMember> read_zip_directory(std::istream& file, const std::string& error_prefix);

// read_zip_directory, then every member's bytes (inflated, where deflated) against its CRC-32
// and size. Reads the file once more in 1 MiB pieces; leaves the stream's position anywhere.
void check_zip_archive(std::istream& file, const std::string& error_prefix);

}  // namespace moevit
