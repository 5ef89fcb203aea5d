#include "datasets/image_header.h"

#include <zlib.h>

#include <cctype>
#include <cstring>
#include <stdexcept>
#include <string>

namespace moevit {
namespace {

// Byte readers that refuse to read past the end, so a short or lying header throws instead of
// reading out of bounds.
class ByteReader {
 public:
  explicit ByteReader(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}

  size_t size() const { return bytes_.size(); }
  uint8_t u8(size_t offset) const {
    if (offset >= bytes_.size()) throw std::runtime_error("header ends too early");
    return bytes_[offset];
  }
  uint32_t big_endian(size_t offset, int num_bytes) const {
    uint32_t value = 0;
    for (int i = 0; i < num_bytes; ++i) value = (value << 8) | u8(offset + i);
    return value;
  }
  uint32_t little_endian(size_t offset, int num_bytes) const {
    uint32_t value = 0;
    for (int i = num_bytes - 1; i >= 0; --i) value = (value << 8) | u8(offset + i);
    return value;
  }
  bool starts_with(const char* magic, size_t offset = 0) const {
    const size_t length = std::strlen(magic);
    return offset + length <= bytes_.size() &&
           std::memcmp(bytes_.data() + offset, magic, length) == 0;
  }

 private:
  const std::vector<uint8_t>& bytes_;
};

const char kPngSignature[] = "\x89PNG\r\n\x1a\n";

// PNG: signature, then the IHDR chunk (length, "IHDR", width, height as big-endian uint32).
ImageHeader png_header(const ByteReader& bytes) {
  if (!bytes.starts_with("IHDR", 12)) throw std::runtime_error("PNG without an IHDR chunk");
  return {ImageFormat::kPng, bytes.big_endian(16, 4), bytes.big_endian(20, 4)};
}

bool is_jpeg_frame_marker(uint8_t marker) {
  // SOF0-SOF15 are 0xC0-0xCF except DHT (C4), JPG (C8) and DAC (CC).
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

bool is_jpeg_standalone_marker(uint8_t marker) {
  return marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8);  // TEM, RSTn, SOI: no length
}

struct JpegMarker {
  uint8_t marker;
  size_t offset;  // of the byte after the marker
};

// Walks the marker segments from SOI, skipping each segment's contents by its length, to the
// first frame header (if stop_at_frame), scan (SOS) or end of image (EOI). Skipping by length
// matters: APPn segments may hold a whole thumbnail JPEG with markers of its own.
JpegMarker walk_jpeg_segments(const ByteReader& bytes, bool stop_at_frame) {
  size_t offset = 2;
  while (true) {
    if (bytes.u8(offset) != 0xFF) throw std::runtime_error("JPEG marker expected");
    while (bytes.u8(offset) == 0xFF) ++offset;  // fill bytes may precede a marker
    const uint8_t marker = bytes.u8(offset++);
    if ((stop_at_frame && is_jpeg_frame_marker(marker)) || marker == 0xDA || marker == 0xD9)
      return {marker, offset};
    if (!is_jpeg_standalone_marker(marker)) offset += bytes.big_endian(offset, 2);
  }
}

// JPEG frame header SOFn: FF Cn, length(2), precision(1), height(2), width(2) (ITU T.81 B.2.2).
ImageHeader jpeg_header(const ByteReader& bytes) {
  const JpegMarker frame = walk_jpeg_segments(bytes, /*stop_at_frame=*/true);
  if (!is_jpeg_frame_marker(frame.marker))
    throw std::runtime_error("JPEG without a frame header before its first scan");
  return {ImageFormat::kJpeg, bytes.big_endian(frame.offset + 5, 2),
          bytes.big_endian(frame.offset + 3, 2)};
}

void check_jpeg_not_truncated(const std::vector<uint8_t>& data) {
  const char* const kCutShort = "JPEG cut short: no end-of-image marker after its scan";
  JpegMarker scan{};
  try {
    scan = walk_jpeg_segments(ByteReader(data), /*stop_at_frame=*/false);
  } catch (const std::runtime_error&) {
    throw std::runtime_error(kCutShort);
  }
  if (scan.marker != 0xDA) throw std::runtime_error("JPEG without a scan");
  // Inside entropy-coded data a 0xFF byte is followed by 0x00 or a restart marker, so FF D9
  // after the first scan can only be the end-of-image marker (trailing bytes may follow it).
  for (size_t i = data.size() - 1; i > scan.offset; --i)
    if (data[i - 1] == 0xFF && data[i] == 0xD9) return;
  throw std::runtime_error(kCutShort);
}

// BMP: file header (14 bytes), then the info header; its size tells the old OS/2 layout (12
// bytes, 16-bit sides) from the Windows ones (signed 32-bit; negative height = top-down).
ImageHeader bmp_header(const ByteReader& bytes) {
  const uint32_t info_size = bytes.little_endian(14, 4);
  if (info_size == 12)
    return {ImageFormat::kBmp, bytes.little_endian(18, 2), bytes.little_endian(20, 2)};
  const int32_t width = static_cast<int32_t>(bytes.little_endian(18, 4));
  const int32_t height = static_cast<int32_t>(bytes.little_endian(22, 4));
  return {ImageFormat::kBmp, width, height < 0 ? -static_cast<int64_t>(height) : height};
}

// WebP: RIFF container; the first chunk is lossy VP8, lossless VP8L or extended VP8X
// (Google's "WebP Container Specification" and "WebP Lossless Bitstream Specification").
ImageHeader webp_header(const ByteReader& bytes) {
  if (bytes.starts_with("VP8 ", 12)) {
    if (bytes.u8(23) != 0x9D || bytes.u8(24) != 0x01 || bytes.u8(25) != 0x2A)
      throw std::runtime_error("WebP VP8 chunk without a key frame start code");
    return {ImageFormat::kWebp, bytes.little_endian(26, 2) & 0x3FFF,
            bytes.little_endian(28, 2) & 0x3FFF};
  }
  if (bytes.starts_with("VP8L", 12)) {
    if (bytes.u8(20) != 0x2F) throw std::runtime_error("WebP VP8L chunk without its signature");
    const uint32_t bits = bytes.little_endian(21, 4);  // 14 bits width-1, 14 bits height-1
    return {ImageFormat::kWebp, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (bytes.starts_with("VP8X", 12))  // 24-bit canvas width-1 and height-1
    return {ImageFormat::kWebp, bytes.little_endian(24, 3) + 1, bytes.little_endian(27, 3) + 1};
  throw std::runtime_error("WebP without a VP8, VP8L or VP8X chunk");
}

// TIFF: byte order mark, offset of the first IFD, then 12-byte entries; ImageWidth (tag 256) and
// ImageLength (257) are SHORT or LONG values stored in the entry itself (TIFF 6.0, section 2).
ImageHeader tiff_header(const ByteReader& bytes) {
  const bool little = bytes.starts_with("II");
  const auto read = [&](size_t offset, int num_bytes) {
    return little ? bytes.little_endian(offset, num_bytes) : bytes.big_endian(offset, num_bytes);
  };
  const size_t ifd = read(4, 4);
  const uint32_t num_entries = read(ifd, 2);
  int64_t width = 0, height = 0;
  bool seen_width = false, seen_height = false;
  for (uint32_t i = 0; i < num_entries; ++i) {
    const size_t entry = ifd + 2 + 12 * static_cast<size_t>(i);
    const uint32_t tag = read(entry, 2), type = read(entry + 2, 2);
    if (tag != 256 && tag != 257) continue;
    // libtiff takes a tag's first entry and skips one of a type it does not expect; a sniffer
    // that read another entry than the decoder would let a file claim fewer pixels than it
    // decodes to (found by fuzzing: an ImageWidth of 2, then one of an invalid type saying 1).
    // Either is refused, so the size guard always sees what the decoder will.
    const char* name = tag == 256 ? "ImageWidth" : "ImageLength";
    if (type != 3 && type != 4)  // SHORT, LONG
      throw std::runtime_error(std::string("TIFF ") + name + " of type " + std::to_string(type) +
                               ", expected SHORT (3) or LONG (4)");
    bool& seen = tag == 256 ? seen_width : seen_height;
    if (seen) throw std::runtime_error(std::string("TIFF with two ") + name + " entries");
    seen = true;
    (tag == 256 ? width : height) = type == 3 ? read(entry + 8, 2) : read(entry + 8, 4);
  }
  return {ImageFormat::kTiff, width, height};
}

// PNM: "P1".."P6", then width and height as decimal text; '#' starts a comment to end of line.
ImageHeader pnm_header(const ByteReader& bytes) {
  size_t offset = 2;
  const auto next_number = [&]() {
    while (true) {
      const uint8_t c = bytes.u8(offset);
      if (c == '#') {
        while (bytes.u8(offset) != '\n') ++offset;
      } else if (std::isspace(c)) {
        ++offset;
      } else {
        break;
      }
    }
    if (!std::isdigit(bytes.u8(offset))) throw std::runtime_error("PNM header without its size");
    int64_t value = 0;
    while (offset < bytes.size() && std::isdigit(bytes.u8(offset)) && value < (int64_t{1} << 40))
      value = value * 10 + (bytes.u8(offset++) - '0');
    return value;
  };
  const int64_t width = next_number();
  return {ImageFormat::kPnm, width, next_number()};
}

ImageHeader parse_header(const ByteReader& bytes) {
  if (bytes.starts_with(kPngSignature)) return png_header(bytes);
  if (bytes.size() >= 3 && bytes.u8(0) == 0xFF && bytes.u8(1) == 0xD8 && bytes.u8(2) == 0xFF)
    return jpeg_header(bytes);
  if (bytes.starts_with("BM")) return bmp_header(bytes);
  if (bytes.starts_with("RIFF") && bytes.starts_with("WEBP", 8)) return webp_header(bytes);
  if (bytes.starts_with("II*") || bytes.starts_with(std::string("MM\0*", 4).c_str()))
    return tiff_header(bytes);
  if (bytes.size() >= 2 && bytes.u8(0) == 'P' && bytes.u8(1) >= '1' && bytes.u8(1) <= '6')
    return pnm_header(bytes);
  throw std::runtime_error("not a PNG, JPEG, BMP, WebP, TIFF or PNM image");
}

// PNG chunks: length (4, big-endian), type (4), data, CRC-32 of type and data (4), up to IEND
// (PNG spec 5.3). zlib's crc32 is the PNG CRC.
void check_png_chunks(const std::vector<uint8_t>& data) {
  const ByteReader bytes(data);
  size_t offset = 8;  // after the signature
  while (true) {
    if (offset + 12 > data.size())
      throw std::runtime_error("PNG cut short: it ends before its IEND chunk");
    const size_t length = bytes.big_endian(offset, 4);
    if (length > data.size() - offset - 12)
      throw std::runtime_error("PNG cut short: a chunk runs past the end of the file");
    const uint8_t* type = data.data() + offset + 4;
    const uint32_t crc = bytes.big_endian(offset + 8 + length, 4);
    if (crc32(0L, type, static_cast<uInt>(length + 4)) != crc) {
      std::string name(type, type + 4);
      for (char& c : name) c = std::isalpha(static_cast<unsigned char>(c)) ? c : '?';
      throw std::runtime_error("PNG damaged: chunk " + name + " fails its CRC check");
    }
    if (std::memcmp(type, "IEND", 4) == 0) return;
    offset += 12 + length;
  }
}

}  // namespace

std::string to_string(ImageFormat format) {
  switch (format) {
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kTiff:
      return "TIFF";
    case ImageFormat::kPnm:
      return "PNM";
  }
  return "unknown";
}

ImageHeader read_image_header(const std::vector<uint8_t>& bytes) {
  const ImageHeader header = parse_header(ByteReader(bytes));
  if (header.width <= 0 || header.height <= 0)
    throw std::runtime_error(to_string(header.format) + " header gives an empty size " +
                             std::to_string(header.width) + "x" + std::to_string(header.height));
  return header;
}

void check_image_intact(const std::vector<uint8_t>& bytes, ImageFormat format) {
  if (format == ImageFormat::kPng) {
    check_png_chunks(bytes);
  } else if (format == ImageFormat::kJpeg) {
    check_jpeg_not_truncated(bytes);
  }
}

}  // namespace moevit
