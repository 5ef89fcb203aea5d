#include "app/run/zip_check.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/test_files.h"

namespace moevit {
namespace {

// A zip archive built by hand, as miniz lays out LibTorch's (without the alignment padding):
// local header + data per member, the central directory, optionally the zip64 end record and
// its locator, the end record.
struct Entry {
  std::string name;
  std::string data;
  bool deflate = false;
};

void put16(std::string& bytes, uint64_t value) {
  for (int i = 0; i < 2; ++i) bytes += static_cast<char>((value >> (8 * i)) & 0xff);
}
void put32(std::string& bytes, uint64_t value) {
  for (int i = 0; i < 4; ++i) bytes += static_cast<char>((value >> (8 * i)) & 0xff);
}
void put64(std::string& bytes, uint64_t value) {
  for (int i = 0; i < 8; ++i) bytes += static_cast<char>((value >> (8 * i)) & 0xff);
}

std::string raw_deflate(const std::string& data) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

std::string build_zip(const std::vector<Entry>& entries, bool zip64 = false) {
  std::string bytes, directory;
  for (const Entry& entry : entries) {
    const std::string stored = entry.deflate ? raw_deflate(entry.data) : entry.data;
    const uint32_t crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(entry.data.data()), entry.data.size()));
    const uint64_t offset = bytes.size();
    const auto common = [&](std::string& header) {  // from "flags" to "extra length"
      put16(header, 0);                             // flags
      put16(header, entry.deflate ? 8 : 0);         // method
      put32(header, 0);                             // time, date
      put32(header, crc);
      put32(header, stored.size());
      put32(header, entry.data.size());
      put16(header, entry.name.size());
      put16(header, 0);  // extra length
    };
    put32(bytes, 0x04034b50);
    put16(bytes, 20);  // version needed
    common(bytes);
    bytes += entry.name + stored;
    put32(directory, 0x02014b50);
    put32(directory, 20 | 20 << 16);  // version made by, version needed
    common(directory);
    put16(directory, 0);  // comment length
    put16(directory, 0);  // disk
    put16(directory, 0);  // internal attributes
    put32(directory, 0);  // external attributes
    put32(directory, offset);
    directory += entry.name;
  }
  const uint64_t directory_offset = bytes.size();
  bytes += directory;
  if (zip64) {
    const uint64_t record_offset = bytes.size();
    put32(bytes, 0x06064b50);
    put64(bytes, 44);              // the record's size after this field
    put32(bytes, 45 | 45 << 16);   // versions
    put64(bytes, 0);               // disk, directory's disk
    put64(bytes, entries.size());  // entries on this disk
    put64(bytes, entries.size());  // entries
    put64(bytes, directory.size());
    put64(bytes, directory_offset);
    put32(bytes, 0x07064b50);
    put32(bytes, 0);  // disk of the zip64 record
    put64(bytes, record_offset);
    put32(bytes, 1);  // disks
  }
  put32(bytes, 0x06054b50);
  put32(bytes, 0);  // disk, directory's disk
  put16(bytes, entries.size());
  put16(bytes, entries.size());
  put32(bytes, directory.size());
  put32(bytes, directory_offset);
  put16(bytes, 0);  // comment length
  return bytes;
}

const std::vector<Entry> kTwoMembers = {{"a/x", "hello"},
                                        {"a/code.py", std::string(20 * 9, 'p'), true}};

std::vector<ZipMember> directory_of(const std::string& bytes) {
  std::istringstream stream(bytes);
  return read_zip_directory(stream, "x.zip");
}

std::string check_error(const std::string& bytes) {
  return testing::error_message([&] {
    std::istringstream stream(bytes);
    check_zip_archive(stream, "x.zip");
  });
}

TEST(ZipCheck, ListsEveryMemberWithItsExtentsAndPassesAnIntactArchive) {
  for (const bool zip64 : {false, true}) {
    const std::string bytes = build_zip(kTwoMembers, zip64);
    const std::vector<ZipMember> members = directory_of(bytes);
    ASSERT_EQ(members.size(), 2u);
    EXPECT_EQ(members[0].name, "a/x");
    EXPECT_EQ(members[0].header_offset, 0u);
    EXPECT_EQ(members[0].data_offset, 33u);  // 30-byte header + 3-byte name
    EXPECT_EQ(members[0].size, 5u);
    EXPECT_EQ(members[0].compressed_size, 5u);
    EXPECT_EQ(members[0].crc32, 0x3610a686u);  // zlib.crc32(b"hello")
    EXPECT_EQ(members[0].method, 0);
    EXPECT_EQ(members[1].name, "a/code.py");
    EXPECT_EQ(members[1].header_offset, 38u);
    EXPECT_EQ(members[1].data_offset, 77u);
    EXPECT_EQ(members[1].size, 180u);
    EXPECT_LT(members[1].compressed_size, 180u);
    EXPECT_EQ(members[1].method, 8);
    EXPECT_EQ(members[1].entry_offset, members[1].data_offset + members[1].compressed_size + 49);
    EXPECT_EQ(check_error(bytes), "") << "zip64 " << zip64;
  }
}

TEST(ZipCheck, AFlippedBitInAStoredMemberFailsItsCrc) {
  std::string bytes = build_zip(kTwoMembers);
  bytes[33] ^= 1;  // "hello" → "iello"
  EXPECT_EQ(check_error(bytes),
            "x.zip: member \"a/x\": CRC-32 0b708f36 of its bytes, 3610a686 recorded (damaged)");
}

TEST(ZipCheck, ADamagedDeflatedMemberIsNamed) {
  const std::string intact = build_zip(kTwoMembers);
  const ZipMember code = directory_of(intact)[1];
  // The first bits of a deflate stream (RFC 1951 3.2.3): BFINAL, then BTYPE. Cleared BFINAL: the
  // stream asks for a block past its end; a flipped BTYPE bit: a stored block with a bad
  // length, or the reserved type. Either way zlib cannot inflate it.
  for (const int bit : {0, 1}) {
    std::string bytes = intact;
    bytes[code.data_offset] ^= static_cast<char>(1 << bit);
    EXPECT_EQ(check_error(bytes).rfind("x.zip: member \"a/code.py\": ", 0), 0u)
        << check_error(bytes);
  }
  // A CRC recorded wrongly for intact data reads as damage too.
  std::string bytes = intact;
  bytes[code.entry_offset + 16] ^= 1;
  EXPECT_EQ(check_error(bytes).rfind("x.zip: member \"a/code.py\": CRC-32 ", 0), 0u)
      << check_error(bytes);
}

TEST(ZipCheck, TruncatedEmptyOrForeignFilesSayWhatTheyAre) {
  const std::string bytes = build_zip(kTwoMembers);
  EXPECT_EQ(check_error(""), "x.zip: an empty file (0 bytes)");
  EXPECT_EQ(check_error(bytes.substr(0, 3)),
            "x.zip: it does not begin as a zip archive (PK\\3\\4), which every LibTorch archive "
            "does");
  EXPECT_EQ(check_error("{\"not\": \"a zip\"}"),
            "x.zip: it does not begin as a zip archive (PK\\3\\4), which every LibTorch archive "
            "does");
  EXPECT_EQ(check_error(bytes.substr(0, 21)),
            "x.zip: only 21 bytes (truncated, or not a zip archive)");
  for (const size_t length : {size_t{40}, bytes.size() - 1})
    EXPECT_EQ(check_error(bytes.substr(0, length)),
              "x.zip: no zip end-of-directory record in its " + std::to_string(length) +
                  " bytes (truncated, or not a zip archive)");
}

TEST(ZipCheck, ALocalHeaderThatNamesAnotherMemberIsRefused) {
  std::string bytes = build_zip(kTwoMembers);
  bytes[32] = 'y';  // the local header's "a/x" → "a/y"; the directory still says "a/x"
  EXPECT_EQ(check_error(bytes),
            "x.zip: member \"a/x\": its local header names another member (damaged)");
}

TEST(ZipCheck, ANameListedTwiceOrUnprintableIsRefused) {
  EXPECT_EQ(check_error(build_zip({{"a/x", "1"}, {"a/x", "2"}})),
            "x.zip: member \"a/x\" is listed twice (damaged)");
  EXPECT_EQ(check_error(build_zip({{"a\nb", "1"}})),
            "x.zip: member \"a\\x0ab\": not a name LibTorch writes (damaged)");
  EXPECT_EQ(check_error(build_zip({{"a/../b", "1"}})),
            "x.zip: member \"a/../b\": not a name LibTorch writes (damaged)");
  EXPECT_EQ(check_error(build_zip({{"a/b/", ""}})),
            "x.zip: member \"a/b/\": not a name LibTorch writes (damaged)");
  // miniz looks names up without case: "a/X" and "a/x" would be one member to LibTorch.
  const std::string error = check_error(build_zip({{"a/X", "1"}, {"a/x", "2"}}));
  EXPECT_TRUE(error == "x.zip: member \"a/x\" is listed twice (damaged)" ||
              error == "x.zip: member \"a/X\" is listed twice (damaged)")
      << error;
}

TEST(ZipCheck, AMemberMarkedAsAFolderIsRefused) {
  // miniz extracts nothing from a folder and reports success: the tensor would be whatever
  // memory LibTorch allocated for it.
  std::string bytes = build_zip(kTwoMembers);
  bytes[directory_of(bytes)[0].entry_offset + 38] = 0x10;  // external attributes: DOS folder
  EXPECT_EQ(check_error(bytes), "x.zip: member \"a/x\": marked as a folder (damaged)");
}

TEST(ZipCheck, EndRecordsThatDisagreeOrPointPastTheFileAreRefused) {
  std::string bytes = build_zip(kTwoMembers, /*zip64=*/true);
  bytes[bytes.size() - 12] = 3;  // the end record's entry count: 2 → 3, the zip64 one says 2
  EXPECT_EQ(check_error(bytes),
            "x.zip: its zip end record and zip64 end record disagree (damaged)");

  bytes = build_zip(kTwoMembers);
  bytes[bytes.size() - 3] = 0x7f;  // the directory's offset gains 0x7f000000 bytes
  EXPECT_EQ(check_error(bytes).rfind("x.zip: its zip directory [", 0), 0u) << check_error(bytes);
}

}  // namespace
}  // namespace moevit
