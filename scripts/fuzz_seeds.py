#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/fuzz_targets.h) into fuzz/corpus/<target>/.

Python's standard library only, and deterministic: every byte is computed here (gzip without a
time stamp, zip entries dated 1980-01-01), so a rerun rewrites the same files. The checkpoint
seeds need the moevit binary and come from scripts/make-fuzz-seeds.sh.

File names say what a seed is, and the corpus replay test (tests/fuzz/corpus_replay_test.cpp)
holds them to it:
  valid-*    the target must accept it (it reaches the code past the parsing)
  near-*     a near miss, refused (truncated, a bad checksum, a lying size, a wrong key...)
  regress-*  an input that once found a bug, kept so the bug stays fixed
Only valid-* and near-* files are written here; other files in the folders are left alone.

  python3 scripts/fuzz_seeds.py [REPO_ROOT]
"""

import base64
import gzip
import io
import json
import os
import struct
import sys
import zipfile
import zlib

# --------------------------------------------------------------------------------------------
# Images. Each seed: (name, bytes, header_ok, decode_ok). header_ok: read_image_header and
# check_image_intact accept it (target image_header); decode_ok: decode_image and the transforms
# accept it (target image_decode), under the target's 512x512 pixel limit.


def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def png_filter(kind, row, previous, bpp):
    """PNG filter `kind` (0 none, 1 sub, 2 up, 3 average, 4 Paeth; PNG spec 9.2) of one row."""
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = previous[i]
        c = previous[i - bpp] if i >= bpp else 0
        predictor = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
        out.append((x - predictor) & 0xFF)
    return bytes([kind]) + bytes(out)


def png(width, height, bit_depth, color_type, rows, extra_chunks=(), interlace=0,
        filters=True):
    """rows: the raw scanlines (bytes each). Rows are filtered in turn with filters 0-4."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    bpp = max(1, channels * bit_depth // 8)
    raw = b""
    previous = bytes(len(rows[0])) if rows else b""
    for index, row in enumerate(rows):
        raw += png_filter(index % 5 if filters else 0, row, previous, bpp)
        previous = row
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
            b"".join(png_chunk(kind, data) for kind, data in extra_chunks) +
            png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def png_adam7_gray(size):
    """An 8-bit grayscale size x size PNG, Adam7-interlaced: each pass's rows, unfiltered."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        for y in range(y0, size, dy):
            row = bytes((x * 37 + y * 11) & 0xFF for x in range(x0, size, dx))
            if row:
                raw += b"\x00" + row
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 1)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
            png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def gradient(width, height, channels, scale=1):
    return [bytes(((x * 29 + y * 53 + c * 71) * scale) & 0xFF
                  for x in range(width) for c in range(channels)) for y in range(height)]


def jpeg_segment(marker, payload):
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg(width, height, components, scan_bits, jfif=False, extra_segments=b""):
    """A baseline JPEG whose Huffman tables hold two DC codes ('0': difference 0, '10': size 4)
    and one AC code ('0': end of block), so the entropy-coded data is written by hand:
    scan_bits, a string of '0'/'1', padded with 1-bits (ITU T.81 F.1.2.3). All quantisers 1."""
    app0 = jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00") if jfif else b""
    dqt = jpeg_segment(0xDB, b"\x00" + bytes([1] * 64))
    sof = jpeg_segment(0xC0, struct.pack(">BHHB", 8, height, width, components) +
                       b"".join(bytes([i + 1, 0x11, 0]) for i in range(components)))
    counts_dc = bytes([1, 1] + [0] * 14)
    dht_dc = jpeg_segment(0xC4, b"\x00" + counts_dc + bytes([0x00, 0x04]))
    dht_ac = jpeg_segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + bytes([0x00]))
    sos = jpeg_segment(0xDA, bytes([components]) +
                       b"".join(bytes([i + 1, 0x00]) for i in range(components)) + b"\x00\x3f\x00")
    bits = scan_bits + "1" * (-len(scan_bits) % 8)
    data = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
    data = data.replace(b"\xff", b"\xff\x00")  # byte stuffing
    return (b"\xff\xd8" + app0 + extra_segments + dqt + sof + dht_dc + dht_ac + sos + data +
            b"\xff\xd9")


def bmp(width, height, pixels_bgr_rows, top_down=False):
    """24-bit BMP with a BITMAPINFOHEADER; rows given top first."""
    stride = (width * 3 + 3) // 4 * 4
    rows = pixels_bgr_rows if top_down else list(reversed(pixels_bgr_rows))
    data = b"".join(row + bytes(stride - len(row)) for row in rows)
    info = struct.pack("<IiiHHIIiiII", 40, width, -height if top_down else height, 1, 24, 0,
                       len(data), 2835, 2835, 0, 0)
    header = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(data), 0, 0, 14 + len(info))
    return header + info + data


def bmp_os2(width, height, pixels_bgr_rows):
    """24-bit BMP with the OS/2 1.x BITMAPCOREHEADER (12 bytes, 16-bit sides)."""
    stride = (width * 3 + 3) // 4 * 4
    data = b"".join(row + bytes(stride - len(row)) for row in reversed(pixels_bgr_rows))
    info = struct.pack("<IHHHH", 12, width, height, 1, 24)
    return b"BM" + struct.pack("<IHHI", 26 + len(data), 0, 0, 26) + info + data


def tiff(width, height, samples, pixels, big_endian=False):
    """Baseline uncompressed TIFF, one strip, 8 bits per sample (TIFF 6.0 section 2)."""
    order = ">" if big_endian else "<"
    tags = []  # (tag, type, count, value: int or bytes stored after the IFD)

    def short(tag, value):
        tags.append((tag, 3, 1, value))

    bits = struct.pack(order + "H" * samples, *([8] * samples))
    short(256, width)
    short(257, height)
    tags.append((258, 3, samples, bits if samples > 2 else 8))
    short(259, 1)  # no compression
    short(262, 2 if samples == 3 else 1)  # RGB or BlackIsZero
    tags.append((273, 4, 1, None))  # StripOffsets: filled below
    short(277, samples)
    short(278, height)
    tags.append((279, 4, 1, len(pixels)))
    ifd_size = 2 + 12 * len(tags) + 4
    extra_offset = 8 + ifd_size
    extra = bits if samples > 2 else b""
    strip_offset = extra_offset + len(extra)
    ifd = struct.pack(order + "H", len(tags))
    for tag, kind, count, value in tags:
        if value is None:
            value = strip_offset
        if isinstance(value, bytes):
            field = struct.pack(order + "I", extra_offset)
        elif kind == 3:
            field = struct.pack(order + "HH", value, 0)
        else:
            field = struct.pack(order + "I", value)
        ifd += struct.pack(order + "HHI", tag, kind, count) + field
    ifd += struct.pack(order + "I", 0)
    head = (b"MM\x00\x2a" if big_endian else b"II\x2a\x00") + struct.pack(order + "I", 8)
    return head + ifd + extra + pixels


# The smallest WebP files, as browsers' feature tests carry them: a 1x1 lossy (VP8) and a 1x1
# lossless (VP8L) image.
WEBP_LOSSY_1X1 = base64.b64decode("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA")
WEBP_LOSSLESS_1X1 = base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")


def image_seeds():
    gray8 = gradient(8, 8, 1)
    rgb = gradient(4, 3, 3)
    valid_png = png(8, 8, 8, 0, gray8)
    valid_jpeg = jpeg(8, 8, 1, "00", jfif=True)
    seeds = [
        ("gray8x8.png", valid_png, True, True),
        ("rgb4x3-filters.png", png(4, 3, 8, 2, rgb), True, True),
        ("rgba2x2.png", png(2, 2, 8, 6, gradient(2, 2, 4)), True, True),
        ("graya3x2.png", png(3, 2, 8, 4, gradient(3, 2, 2)), True, True),
        ("gray16-3x2.png", png(3, 2, 16, 0, gradient(6, 2, 1, scale=7)), True, True),
        ("palette4bit-3x3.png",
         png(3, 3, 4, 3, [bytes([0x01, 0x20]), bytes([0x30, 0x10]), bytes([0x23, 0x00])],
             extra_chunks=[(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])),
                           (b"tRNS", bytes([255, 128]))]), True, True),
        ("adam7-5x5.png", png_adam7_gray(5), True, True),
        ("gray1x1.png", png(1, 1, 8, 0, [b"\x80"]), True, True),
        ("gray8x8.jpg", valid_jpeg, True, True),
        ("gray8x16-dc.jpg", jpeg(8, 16, 1, "101111" + "0" + "0" + "0"), True, True),
        ("ycc16x8.jpg", jpeg(16, 8, 3, "00" * 6), True, True),
        ("rgb2x2.bmp", bmp(2, 2, [bytes(range(6)), bytes(range(100, 106))]), True, True),
        ("rgb3x2-topdown.bmp", bmp(3, 2, [bytes(range(9)), bytes(range(50, 59))], top_down=True),
         True, True),
        ("rgb2x2-os2.bmp", bmp_os2(2, 2, [bytes(range(6)), bytes(range(7, 13))]), True, True),
        ("gray3x2.pgm", b"P5\n3 2\n255\n" + bytes([0, 50, 100, 150, 200, 250]), True, True),
        ("rgb2x2-comment.ppm", b"P6\n# a comment\n2 2\n255\n" + bytes(range(0, 240, 20)), True,
         True),
        ("ascii2x2.pgm", b"P2\n2 2\n15\n0 5\n10 15\n", True, True),
        ("ascii3x2.pbm", b"P1\n3 2\n0 1 0\n1 0 1\n", True, True),
        ("binary8x2.pbm", b"P4\n8 2\n" + bytes([0xA5, 0x3C]), True, True),
        ("gray2x2.tif", tiff(2, 2, 1, bytes([0, 80, 160, 240])), True, True),
        ("rgb2x1-bigendian.tif", tiff(2, 1, 3, bytes(range(10, 70, 10)), big_endian=True), True,
         True),
        ("lossy1x1.webp", WEBP_LOSSY_1X1, True, True),
        ("lossless1x1.webp", WEBP_LOSSLESS_1X1, True, True),
    ]
    ihdr_end = 8 + 25  # signature, then IHDR's 25 bytes
    bomb_ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", bomb_ihdr) +
            png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096, 9)) + png_chunk(b"IEND", b""))
    bad_crc = bytearray(valid_png)
    bad_crc[ihdr_end - 1] ^= 0x01
    lying_ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    lying = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", lying_ihdr) +
             png_chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + r for r in gray8), 9)) +
             png_chunk(b"IEND", b""))
    # An APP1 segment holding a whole thumbnail JPEG, whose markers the sniffer must skip.
    thumbnail = jpeg_segment(0xE1, b"Exif\x00\x00" + jpeg(8, 8, 1, "00"))
    near = [
        # Header claims 60000x60000 (3.6 gigapixels): whole, so the sniffer accepts it; the
        # size guard refuses it before OpenCV allocates the canvas.
        ("bomb60000x60000.png", bomb, True, False),
        ("truncated.png", valid_png[:-20], False, False),
        ("bad-crc.png", bytes(bad_crc), False, False),
        ("idat-larger-than-ihdr.png", lying, True, False),
        ("no-eoi.jpg", valid_jpeg[:-2], False, False),
        ("thumbnail-in-app1.jpg", jpeg(8, 8, 1, "00", extra_segments=thumbnail), True, True),
        ("no-frame.jpg", b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00\x3f\xff\xd9", False,
         False),
        ("huge.pgm", b"P5\n999999 999999\n255\n\x00", True, False),
        ("truncated.ppm", b"P6\n4 4\n255\n" + bytes(10), True, False),
        ("ifd-past-end.tif", b"II\x2a\x00\xff\xff\x00\x00", False, False),
        ("zero-width.bmp", bmp(2, 2, [bytes(6), bytes(6)])[:18] + bytes(4) +
         bmp(2, 2, [bytes(6), bytes(6)])[22:], False, False),
        ("vp8x-header-only.webp",
         b"RIFF" + struct.pack("<I", 22) + b"WEBPVP8X" + struct.pack("<I", 10) + bytes(4) +
         bytes([1, 0, 0, 1, 0, 0]), True, False),
        ("gif.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", False, False),
    ]
    return seeds, near


# --------------------------------------------------------------------------------------------
# IDX (datasets/idx.h): magic 0x00000803 [N,H,W] images, 0x00000801 [N] labels, big-endian.


def idx(magic, sizes, data):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", s) for s in sizes) + bytes(data)


def idx_seeds():
    images = idx(0x803, [3, 8, 8], [(i * 7) & 0xFF for i in range(3 * 64)])
    labels = idx(0x801, [3], [0, 1, 0])
    return [
        ("valid-images-3x8x8.idx", images),
        ("valid-labels-3.idx", labels),
        ("valid-images-2x4x4.idx.gz", gzip.compress(idx(0x803, [2, 4, 4], range(32)), 9,
                                                    mtime=0)),
        ("valid-labels-empty.idx", idx(0x801, [0], [])),
        ("near-images-short.idx", images[:100]),
        ("near-images-long.idx", images + b"\x00"),
        ("near-magic-0804.idx", idx(0x804, [1, 2, 2, 2], range(8))),
        ("near-zero-rows.idx", idx(0x803, [1, 0, 4], [])),
        ("near-gzip-truncated.idx.gz", gzip.compress(images, 9, mtime=0)[:60]),
        # 2^14 images of 1024x1024: 16 GiB claimed (the limit), 1 byte present. The reader once
        # allocated (and zeroed) the claim before reading (datasets/idx.cpp, read_bytes).
        ("regress-claims-16gib.idx", idx(0x803, [1 << 14, 1 << 10, 1 << 10], [7])),
    ]


# --------------------------------------------------------------------------------------------
# Config (app/run/config.h): YAML text, then '\0'-separated --set overrides.

CONFIG_FILES = ["fmnist-topk.yaml", "fmnist-soft.yaml", "fmnist-expert-choice.yaml",
                "fmnist-deepseek.yaml", "cifar10-dense.yaml", "vit-s16-priority.yaml"]


def config_seeds(root):
    seeds = []
    for name in CONFIG_FILES:
        with open(os.path.join(root, "configs", name), "rb") as file:
            seeds.append(("valid-" + name, file.read()))
    small = (b"model:\n  image_size: 8\n  patch_size: 4\n  dim: 16\n  depth: 2\n  heads: 2\n"
             b"  mlp_dim: 32\n  num_classes: 3\nmoe:\n  router: topk\n  num_experts: 4\n"
             b"  k: 1\n  every: 2\n")
    seeds += [
        ("valid-small-with-overrides.yaml", small + b"\0moe.blocks=[0,1]\0optim.lr=3e-4\0"
         b"data.mean=[0.5]\0run.output_dir=\"runs/x y\""),
        ("valid-overrides-only.yaml", b"\0moe.router=soft\0model.dim=96"),
        ("near-syntax-error.yaml", b"model:\n  dim: [64\n"),
        ("near-unknown-key.yaml", b"moe:\n  num_expert: 8\n"),
        ("near-set-twice.yaml", b"optim:\n  lr: 0.1\n  lr: 0.2\n"),
        ("near-two-placements.yaml", b"moe:\n  every: 2\n  last: 2\n"),
        ("valid-anchors-and-tags.yaml",
         b"data:\n  mean: &m [0.5]\n  std: *m\nmodel: !!map {dim: 96}\n"),
        # yaml-cpp's Load reads the first document of several.
        ("valid-two-documents.yaml", b"model:\n  dim: 96\n---\nmodel:\n  dim: 32\n"),
        ("near-bad-override.yaml", small + b"\0moe.k=[1\0optim.lrr=1\0=3"),
        ("near-wrong-types.yaml", b"model:\n  dim: \"192\"\n  depth: 1.5\n"),
    ]
    return seeds


# --------------------------------------------------------------------------------------------
# safetensors (app/pretrained/safetensors.h): u64 header length, JSON header, data buffer.


def safetensors(entries, metadata=None, pad=True, declared_length=None):
    """entries: [(name, dtype, shape, bytes)], laid out in order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    length = len(text) if declared_length is None else declared_length
    return struct.pack("<Q", length) + text + data


def raw_header_safetensors(text, data=b""):
    return struct.pack("<Q", len(text)) + text + data


def floats(*values):
    return struct.pack("<%df" % len(values), *values)


def timm_vit_tensors():
    """A timm ViT (app/pretrained/timm_layout.h) of 8x8 grayscale, patch 4, dim 8, 1 block, MLP 16,
    3 classes: `moevit import` turns it into a checkpoint seed (scripts/make-fuzz-seeds.sh)."""
    dim, mlp, classes, tokens = 8, 16, 3, 1 + 4
    shapes = [("cls_token", [1, 1, dim]), ("pos_embed", [1, tokens, dim]),
              ("patch_embed.proj.weight", [dim, 1, 4, 4]), ("patch_embed.proj.bias", [dim]),
              ("blocks.0.norm1.weight", [dim]), ("blocks.0.norm1.bias", [dim]),
              ("blocks.0.attn.qkv.weight", [3 * dim, dim]), ("blocks.0.attn.qkv.bias", [3 * dim]),
              ("blocks.0.attn.proj.weight", [dim, dim]), ("blocks.0.attn.proj.bias", [dim]),
              ("blocks.0.norm2.weight", [dim]), ("blocks.0.norm2.bias", [dim]),
              ("blocks.0.mlp.fc1.weight", [mlp, dim]), ("blocks.0.mlp.fc1.bias", [mlp]),
              ("blocks.0.mlp.fc2.weight", [dim, mlp]), ("blocks.0.mlp.fc2.bias", [dim]),
              ("norm.weight", [dim]), ("norm.bias", [dim]),
              ("head.weight", [classes, dim]), ("head.bias", [classes])]
    entries = []
    for index, (name, shape) in enumerate(sorted(shapes)):
        count = 1
        for size in shape:
            count *= size
        ones = name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == \
            "norm.weight"
        values = [1.0] * count if ones else [((i * 7 + index) % 13 - 6) / 64 for i in range(count)]
        entries.append((name, "F32", shape, floats(*values)))
    metadata = {"format": "pt", "heads": "2", "class_names": '["a","b","c"]', "mean": "[0.5]",
                "std": "[0.5]"}
    return entries, metadata


def safetensors_seeds():
    two = [("weight", "F32", [2, 2], floats(1, -2, 0.5, 3)),
           ("steps", "I64", [3], struct.pack("<3q", -1, 0, 7))]
    all_dtypes = [("f64", "F64", [], struct.pack("<d", 2.5)),
                  ("f32", "F32", [0, 3], b""),
                  ("f16", "F16", [2], bytes([0x00, 0x3C, 0x00, 0xC0])),
                  ("bf16", "BF16", [1, 2], bytes([0x80, 0x3F, 0x00, 0x40])),
                  ("i32", "I32", [1], struct.pack("<i", -5)),
                  ("i16", "I16", [2], struct.pack("<2h", 1, -1)),
                  ("i8", "I8", [3], bytes([1, 0xFF, 0x7F])),
                  ("u8", "U8", [2, 1, 1], bytes([0, 255]))]
    timm_entries, timm_metadata = timm_vit_tensors()
    return [
        ("valid-two-tensors.safetensors", safetensors(two, {"format": "pt"})),
        ("valid-all-dtypes.safetensors", safetensors(all_dtypes)),
        ("valid-empty.safetensors", safetensors([], pad=False)),
        ("valid-unpadded.safetensors", safetensors(two[:1], {"note": "é"}, pad=False)),
        ("valid-timm-vit-tiny.safetensors", safetensors(timm_entries, timm_metadata)),
        ("near-overlap.safetensors",
         raw_header_safetensors(b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                                b'"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', bytes(3))),
        ("near-hole.safetensors",
         raw_header_safetensors(b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
                                bytes(2))),
        ("near-dtype-f8.safetensors",
         raw_header_safetensors(b'{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}',
                                bytes(1))),
        ("near-duplicate-key.safetensors",
         raw_header_safetensors(b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                b'"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', bytes(1))),
        ("near-length-past-end.safetensors", safetensors(two, declared_length=1 << 20)),
        ("near-shape-overflow.safetensors",
         raw_header_safetensors(b'{"a":{"dtype":"F32","shape":[4611686018427387904,4],'
                                b'"data_offsets":[0,16]}}', bytes(16))),
        ("near-offsets-past-end.safetensors",
         raw_header_safetensors(b'{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}',
                                bytes(4))),
        ("near-metadata-number.safetensors",
         raw_header_safetensors(b'{"__metadata__":{"epoch":3}}')),
        ("near-not-an-object.safetensors", raw_header_safetensors(b"[1,2,3]")),
    ]


# --------------------------------------------------------------------------------------------
# Checkpoints: LibTorch archives (zip). The valid ones need LibTorch: make-fuzz-seeds.sh makes
# them with the moevit binary. Here, near misses for the zip reader and the unpickler.


def zip_bytes(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, data)
    return buffer.getvalue()


def checkpoint_seeds():
    # A pickle (protocol 2) of {"moevit_checkpoint_version": 1}, written out so that it does not
    # depend on the Python version: PROTO 2, EMPTY_DICT, BINUNICODE key, BININT1 1, SETITEM, STOP.
    key = b"moevit_checkpoint_version"
    pickle_dict = (b"\x80\x02}" + b"X" + struct.pack("<I", len(key)) + key + b"K\x01s.")
    return [
        ("near-empty.zip", zip_bytes([])),
        ("near-version-only.zip", zip_bytes([("archive/version", b"3\n")])),
        ("near-dict-pickle.zip", zip_bytes([("archive/data.pkl", pickle_dict),
                                            ("archive/version", b"3\n")])),
        ("near-not-a-zip.pt", b"PK\x03\x04" + bytes(26)),
    ]


# --------------------------------------------------------------------------------------------


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as file:
        file.write(data)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))
    corpus = os.path.join(root, "fuzz", "corpus")
    valid_images, near_images = image_seeds()
    for name, data, header_ok, decode_ok in valid_images + near_images:
        write(os.path.join(corpus, "image_header"), ("valid-" if header_ok else "near-") + name,
              data)
        write(os.path.join(corpus, "image_decode"), ("valid-" if decode_ok else "near-") + name,
              data)
    for target, seeds in [("idx", idx_seeds()), ("config", config_seeds(root)),
                          ("safetensors", safetensors_seeds()),
                          ("checkpoint", checkpoint_seeds())]:
        for name, data in seeds:
            write(os.path.join(corpus, target), name, data)


if __name__ == "__main__":
    main()
