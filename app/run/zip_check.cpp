#include "app/run/zip_check.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <istream>
#include <limits>
#include <stdexcept>
#include <utility>

namespace moevit {

namespace {

// Record signatures and fixed sizes, APPNOTE 6.3.9 sections 4.3.7 (local file header), 4.3.12
// (central directory header), 4.3.14-16 (zip64 end record and its locator, end record).
constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kEndSize = 22;
constexpr uint64_t kZip64EndSize = 56;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kMaxCommentSize = 0xffff;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint32_t kZip64Marker = 0xffffffff;  // "the value is in the zip64 extra field"
// Flags no LibTorch archive has, which its reader refuses or misreads: encrypted (bit 0),
// patched data (5), strong encryption (6), masked local headers (13).
constexpr uint16_t kUnsupportedFlags = (1 << 0) | (1 << 5) | (1 << 6) | (1 << 13);
constexpr uint32_t kDosDirectoryAttribute = 0x10;  // in the external attributes
constexpr uint16_t kStored = 0;
constexpr uint16_t kDeflated = 8;
constexpr uint64_t kChunkSize = uint64_t{1} << 20;  // bytes per read while checking CRCs

uint16_t le16(const unsigned char* bytes) {
  return static_cast<uint16_t>(bytes[0] | bytes[1] << 8);
}
uint32_t le32(const unsigned char* bytes) {
  return uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 | uint32_t{bytes[2]} << 16 |
         uint32_t{bytes[3]} << 24;
}
uint64_t le64(const unsigned char* bytes) {
  return uint64_t{le32(bytes)} | uint64_t{le32(bytes + 4)} << 32;
}

// A member's name for an error line: quoted, bytes outside printable ASCII as \xNN, so a
// hostile name cannot break the line.
std::string member_label(const std::string& name) {
  std::string text = "member \"";
  for (const unsigned char byte : name) {
    if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\') {
      text += static_cast<char>(byte);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      text += escaped;
    }
  }
  return text + "\"";
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "%08x", value);
  return text;
}

// Names a LibTorch archive has: relative, '/'-separated, printable, no "..". Anything else is
// damage (or a zip made for another purpose).
bool sane_name(const std::string& name) {
  if (name.empty() || name.front() == '/' || name.back() == '/') return false;
  for (const unsigned char byte : name)
    if (byte < 0x20 || byte >= 0x7f || byte == '\\') return false;
  return ("/" + name + "/").find("/../") == std::string::npos;
}

// The file through one stream: every read is of a range already checked against the size, so a
// short read is an I/O error or a file changed while read.
class ArchiveFile {
 public:
  ArchiveFile(std::istream& stream, const std::string& error_prefix)
      : stream_(stream), error_prefix_(error_prefix) {
    stream_.clear();
    stream_.seekg(0, std::ios::end);
    const std::streamoff end = stream_.tellg();
    if (!stream_ || end < 0) fail("cannot read it (no size)");
    size_ = static_cast<uint64_t>(end);
  }

  uint64_t size() const { return size_; }

  std::vector<unsigned char> read(uint64_t offset, uint64_t count) {
    std::vector<unsigned char> bytes(count);
    stream_.clear();
    stream_.seekg(static_cast<std::streamoff>(offset));
    stream_.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(count));
    if (static_cast<uint64_t>(stream_.gcount()) != count)
      fail("read error at byte " + std::to_string(offset) + " of " + std::to_string(size_));
    return bytes;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(error_prefix_ + ": " + what);
  }

 private:
  std::istream& stream_;
  const std::string& error_prefix_;
  uint64_t size_ = 0;
};

// Where the central directory lies, from the end record (and its zip64 form where present).
struct DirectoryExtent {
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t entries = 0;
  uint64_t limit = 0;  // the first byte after the space the directory may take
};

DirectoryExtent find_directory(ArchiveFile& file) {
  const uint64_t tail_size = std::min(file.size(), kEndSize + kMaxCommentSize);
  if (tail_size < kEndSize)
    file.fail("only " + std::to_string(file.size()) + " bytes (truncated, or not a zip archive)");
  const uint64_t tail_offset = file.size() - tail_size;
  const std::vector<unsigned char> tail = file.read(tail_offset, tail_size);
  // The end record is the last one whose comment runs exactly to the end of the file.
  uint64_t end_offset = file.size();
  for (uint64_t at = tail_size - kEndSize + 1; at-- > 0;) {
    if (le32(&tail[at]) == kEndSignature && at + kEndSize + le16(&tail[at + 20]) == tail_size) {
      end_offset = tail_offset + at;
      break;
    }
  }
  if (end_offset == file.size())
    file.fail("no zip end-of-directory record in its " + std::to_string(file.size()) +
              " bytes (truncated, or not a zip archive)");
  const unsigned char* end = &tail[end_offset - tail_offset];
  // The end record's fields: disk, directory's disk, entries on this disk, entries, directory
  // size, directory offset.
  const uint64_t end_fields[6] = {le16(end + 4),  le16(end + 6),  le16(end + 8),
                                  le16(end + 10), le32(end + 12), le32(end + 16)};
  uint64_t fields[6];
  std::copy(end_fields, end_fields + 6, fields);
  uint64_t limit = end_offset;
  if (end_offset >= kZip64LocatorSize) {
    const std::vector<unsigned char> locator =
        file.read(end_offset - kZip64LocatorSize, kZip64LocatorSize);
    if (le32(locator.data()) == kZip64LocatorSignature) {
      const uint64_t record_offset = le64(&locator[8]);
      if (le32(&locator[4]) != 0 || le32(&locator[16]) > 1)
        file.fail("a zip archive split over several disks (damaged)");
      if (end_offset - kZip64LocatorSize < kZip64EndSize ||
          record_offset > end_offset - kZip64LocatorSize - kZip64EndSize)
        file.fail("its zip64 end record lies outside the file (damaged)");
      const std::vector<unsigned char> record = file.read(record_offset, kZip64EndSize);
      if (le32(record.data()) != kZip64EndSignature)
        file.fail("no zip64 end record where its locator points (damaged)");
      const uint64_t zip64_fields[6] = {le32(&record[16]), le32(&record[20]), le64(&record[24]),
                                        le64(&record[32]), le64(&record[40]), le64(&record[48])};
      // miniz (LibTorch's reader) takes each field from the end record unless it holds the
      // all-ones marker: the two records must agree, or the directory checked here would not
      // be the one LibTorch reads.
      const uint64_t markers[6] = {0xffff, 0xffff, 0xffff, 0xffff, 0xffffffff, 0xffffffff};
      for (int i = 0; i < 6; ++i)
        if (end_fields[i] != zip64_fields[i] && end_fields[i] != markers[i])
          file.fail("its zip end record and zip64 end record disagree (damaged)");
      std::copy(zip64_fields, zip64_fields + 6, fields);
      limit = record_offset;
    }
  }
  if (fields[0] != 0 || fields[1] != 0 || fields[2] != fields[3])
    file.fail("a zip archive split over several disks (damaged, or not written by LibTorch)");
  const DirectoryExtent extent{fields[5], fields[4], fields[3], limit};
  if (extent.offset > extent.limit || extent.size > extent.limit - extent.offset)
    file.fail("its zip directory [" + std::to_string(extent.offset) + ", +" +
              std::to_string(extent.size) + ") runs past its end record at byte " +
              std::to_string(extent.limit) + " (damaged)");
  if (extent.entries == 0) file.fail("an empty zip archive");
  if (extent.entries > extent.size / kCentralHeaderSize)
    file.fail("its zip directory lists " + std::to_string(extent.entries) + " members in " +
              std::to_string(extent.size) + " bytes (damaged)");
  return extent;
}

// The zip64 extra field's values for the fields of the header marked 0xffffffff, in the order
// APPNOTE 4.5.3 gives: size, compressed size, local header offset.
void read_zip64_fields(ArchiveFile& file, const std::string& label, const unsigned char* extra,
                       uint64_t extra_size, uint32_t size32, uint32_t compressed32,
                       uint32_t offset32, ZipMember& member) {
  for (uint64_t at = 0; at + 4 <= extra_size;) {
    const uint16_t id = le16(extra + at), field_size = le16(extra + at + 2);
    if (at + 4 + field_size > extra_size) break;
    if (id == kZip64ExtraId) {
      uint64_t used = 0;
      const auto next = [&](uint64_t& value) {
        if (used + 8 > field_size) file.fail(label + ": its zip64 field is too short (damaged)");
        value = le64(extra + at + 4 + used);
        used += 8;
      };
      if (size32 == kZip64Marker) next(member.size);
      if (compressed32 == kZip64Marker) next(member.compressed_size);
      if (offset32 == kZip64Marker) next(member.header_offset);
      return;
    }
    at += 4 + field_size;
  }
  file.fail(label + ": its sizes are in a zip64 field it lacks (damaged)");
}

// The central directory's entries, each checked on its own.
std::vector<ZipMember> read_entries(ArchiveFile& file, const DirectoryExtent& extent) {
  const std::vector<unsigned char> directory = file.read(extent.offset, extent.size);
  std::vector<ZipMember> members;
  uint64_t at = 0;
  for (uint64_t index = 0; index < extent.entries; ++index) {
    const std::string where = "zip directory entry " + std::to_string(index) + " (byte " +
                              std::to_string(extent.offset + at) + ")";
    if (extent.size - at < kCentralHeaderSize || le32(&directory[at]) != kCentralHeaderSignature)
      file.fail(where + " is damaged");
    const unsigned char* header = &directory[at];
    const uint16_t flags = le16(header + 8);
    const uint64_t name_size = le16(header + 28), extra_size = le16(header + 30);
    const uint64_t entry_size = kCentralHeaderSize + name_size + extra_size + le16(header + 32);
    if (entry_size > extent.size - at) file.fail(where + " runs past the directory (damaged)");
    ZipMember member;
    member.entry_offset = extent.offset + at;
    member.name.assign(reinterpret_cast<const char*>(header + kCentralHeaderSize), name_size);
    member.method = le16(header + 10);
    member.crc32 = le32(header + 16);
    member.compressed_size = le32(header + 20);
    member.size = le32(header + 24);
    member.header_offset = le32(header + 42);
    const std::string label = member_label(member.name);
    if (member.compressed_size == kZip64Marker || member.size == kZip64Marker ||
        member.header_offset == kZip64Marker)
      read_zip64_fields(file, label, header + kCentralHeaderSize + name_size, extra_size,
                        le32(header + 24), le32(header + 20), le32(header + 42), member);
    if (!sane_name(member.name)) file.fail(label + ": not a name LibTorch writes (damaged)");
    if (flags & kUnsupportedFlags)
      file.fail(label + ": encrypted or patched (zip flags 0x" + hex32(flags) + ")");
    if (member.method != kStored && member.method != kDeflated)
      file.fail(label + ": compression method " + std::to_string(member.method) +
                " (LibTorch writes 0 and 8; damaged)");
    if (member.method == kStored && member.compressed_size != member.size)
      file.fail(label + ": stored, yet " + std::to_string(member.compressed_size) +
                " bytes in the file for " + std::to_string(member.size) + " (damaged)");
    if (le16(header + 34) != 0) file.fail(label + ": on another disk (damaged)");
    // miniz extracts nothing from a member it takes for a folder and reports success: LibTorch
    // would load the uninitialised buffer as the tensor.
    if (le32(header + 38) & kDosDirectoryAttribute)
      file.fail(label + ": marked as a folder (damaged)");
    members.push_back(std::move(member));
    at += entry_size;
  }
  if (at != extent.size)
    file.fail("its zip directory has " + std::to_string(extent.size - at) +
              " bytes after its last entry (damaged)");
  return members;
}

// The member's local header: its signature, name and method agree with the directory, and its
// data lies before the directory.
void locate_data(ArchiveFile& file, uint64_t directory_offset, ZipMember& member) {
  const std::string label = member_label(member.name);
  const uint64_t header_size = kLocalHeaderSize + member.name.size();
  if (member.header_offset > directory_offset ||
      header_size > directory_offset - member.header_offset)
    file.fail(label + ": its header at byte " + std::to_string(member.header_offset) +
              " lies outside the archive's data (damaged)");
  const std::vector<unsigned char> header = file.read(member.header_offset, header_size);
  if (le32(header.data()) != kLocalHeaderSignature)
    file.fail(label + ": no local header at byte " + std::to_string(member.header_offset) +
              " (damaged)");
  const std::string local_name(reinterpret_cast<const char*>(&header[kLocalHeaderSize]),
                               member.name.size());
  if (le16(&header[26]) != member.name.size() || local_name != member.name)
    file.fail(label + ": its local header names another member (damaged)");
  if (le16(&header[8]) != member.method)
    file.fail(label + ": its local header gives another compression method (damaged)");
  member.data_offset = member.header_offset + header_size + le16(&header[28]);
  if (member.data_offset > directory_offset ||
      member.compressed_size > directory_offset - member.data_offset)
    file.fail(label + ": its " + std::to_string(member.compressed_size) + " bytes at byte " +
              std::to_string(member.data_offset) + " run past the archive's data (damaged)");
}

void check_no_overlap(ArchiveFile& file, std::vector<ZipMember> members) {
  std::sort(members.begin(), members.end(), [](const ZipMember& a, const ZipMember& b) {
    return a.header_offset < b.header_offset;
  });
  for (size_t i = 1; i < members.size(); ++i)
    if (members[i - 1].data_offset + members[i - 1].compressed_size > members[i].header_offset)
      file.fail(member_label(members[i - 1].name) + " and " + member_label(members[i].name) +
                " overlap (damaged)");
  // miniz finds a member by its name compared without case: two names that differ only in case
  // would be one to LibTorch and two here.
  const auto lower = [](std::string name) {
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
  };
  std::sort(members.begin(), members.end(),
            [&](const ZipMember& a, const ZipMember& b) { return lower(a.name) < lower(b.name); });
  for (size_t i = 1; i < members.size(); ++i)
    if (lower(members[i - 1].name) == lower(members[i].name))
      file.fail(member_label(members[i].name) + " is listed twice (damaged)");
}

uint32_t extend_crc32(uint32_t crc, const unsigned char* bytes, uint64_t count) {
  return static_cast<uint32_t>(::crc32(crc, bytes, static_cast<uInt>(count)));
}

// CRC-32 of a stored member's bytes.
uint32_t stored_crc32(ArchiveFile& file, const ZipMember& member) {
  uint32_t crc = extend_crc32(0, nullptr, 0);
  for (uint64_t done = 0; done < member.size;) {
    const uint64_t count = std::min(kChunkSize, member.size - done);
    const std::vector<unsigned char> chunk = file.read(member.data_offset + done, count);
    crc = extend_crc32(crc, chunk.data(), count);
    done += count;
  }
  return crc;
}

// CRC-32 of a deflated member once inflated (raw deflate, RFC 1951), which must end exactly
// at the end of its compressed bytes and inflate to exactly its recorded size.
uint32_t deflated_crc32(ArchiveFile& file, const ZipMember& member) {
  const std::string label = member_label(member.name);
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) file.fail(label + ": zlib cannot inflate");
  struct InflateEnd {
    z_stream& stream;
    ~InflateEnd() { inflateEnd(&stream); }
  } inflate_end{stream};
  uint32_t crc = extend_crc32(0, nullptr, 0);
  uint64_t read = 0, inflated = 0;
  std::vector<unsigned char> input, output(kChunkSize);
  for (int status = Z_OK; status != Z_STREAM_END;) {
    if (stream.avail_in == 0) {
      if (read == member.compressed_size)
        file.fail(label + ": its compressed data ends early (damaged)");
      const uint64_t count = std::min(kChunkSize, member.compressed_size - read);
      input = file.read(member.data_offset + read, count);
      read += count;
      stream.next_in = input.data();
      stream.avail_in = static_cast<uInt>(count);
    }
    stream.next_out = output.data();
    stream.avail_out = static_cast<uInt>(output.size());
    status = inflate(&stream, Z_NO_FLUSH);
    // Z_BUF_ERROR: no progress without more input, which the next turn gives (with input
    // left and room for output it cannot happen; were it to, it would be damage, not a loop).
    if (status != Z_OK && status != Z_STREAM_END && (status != Z_BUF_ERROR || stream.avail_in != 0))
      file.fail(label + ": its compressed data is damaged (zlib: " +
                (stream.msg ? stream.msg : std::to_string(status)) + ")");
    const uint64_t produced = output.size() - stream.avail_out;
    inflated += produced;
    if (inflated > member.size)
      file.fail(label + ": inflates past its recorded " + std::to_string(member.size) +
                " bytes (damaged)");
    crc = extend_crc32(crc, output.data(), produced);
  }
  if (stream.avail_in != 0 || read != member.compressed_size)
    file.fail(label + ": its compressed data ends before its recorded size (damaged)");
  if (inflated != member.size)
    file.fail(label + ": inflates to " + std::to_string(inflated) + " bytes, " +
              std::to_string(member.size) + " recorded (damaged)");
  return crc;
}

}  // namespace

std::vector<ZipMember> read_zip_directory(std::istream& stream, const std::string& error_prefix) {
  ArchiveFile file(stream, error_prefix);
  if (file.size() == 0) file.fail("an empty file (0 bytes)");
  if (file.size() < 4 || le32(file.read(0, 4).data()) != kLocalHeaderSignature)
    file.fail("it does not begin as a zip archive (PK\\3\\4), which every LibTorch archive does");
  const DirectoryExtent extent = find_directory(file);
  std::vector<ZipMember> members = read_entries(file, extent);
  for (ZipMember& member : members) locate_data(file, extent.offset, member);
  check_no_overlap(file, members);
  return members;
}

void check_zip_archive(std::istream& stream, const std::string& error_prefix) {
  const std::vector<ZipMember> members = read_zip_directory(stream, error_prefix);
  ArchiveFile file(stream, error_prefix);
  for (const ZipMember& member : members) {
    const uint32_t crc =
        member.method == kStored ? stored_crc32(file, member) : deflated_crc32(file, member);
    if (crc != member.crc32)
      file.fail(member_label(member.name) + ": CRC-32 " + hex32(crc) + " of its bytes, " +
                hex32(member.crc32) + " recorded (damaged)");
  }
}

}  // namespace moevit
