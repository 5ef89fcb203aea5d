#!/usr/bin/env python3
"""Hostile variants of a moevit checkpoint, for docs/reliability.md ("Checkpoints").

  scripts/hostile_checkpoint.py CHECKPOINT OUT_DIR

writes into OUT_DIR, from a real checkpoint (a LibTorch zip archive; Python's standard library
only, no torch):
  empty.pt       zero bytes
  magic.pt       the first byte changed (the zip signature PK\\3\\4 gone)
  truncated.pt   the first half of the file
  flipped.pt     one bit flipped in the middle of the largest tensor record
  missing.pt     a well-formed archive without the record of tensor storage 0
  swapped.pt     a well-formed archive with two tensor records of one size swapped (CRCs recomputed)
  overclaim.pt   a well-formed archive whose pickle claims storage 0 holds twice the bytes of its
                 record, and puts its tensor in the half that is not there: the case moevit's
                 checks cannot see (docs/reliability.md, "What remains")
Then try each: moevit eval --checkpoint OUT_DIR/NAME.pt --data DIR (or train --resume).
"""
import os
import pickletools
import struct
import sys
import zipfile


def rewrite(source, target, edit):
    """Copies the zip `source` to `target`, each member's bytes through edit(name, bytes)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info.filename))
            if data is None:
                continue
            out = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            out.compress_type = info.compress_type
            zout.writestr(out, data)


def storage_records(source):
    with zipfile.ZipFile(source) as z:
        return {i.filename: i.file_size for i in z.infolist() if "/data/" in i.filename}


def overclaim(pickle_bytes):
    """Storage 0's element count doubled, the tensor built on it moved past its real end."""
    ops = list(pickletools.genops(pickle_bytes))
    for i, (op, arg, pos) in enumerate(ops):
        if op.name != "BINPERSID" or ops[i - 6][1] != "0":
            continue
        numel_op, numel, numel_pos = ops[i - 2]  # ('storage', type, key, location, numel)
        after = i + 1
        while ops[after][0].name in ("BINPUT", "LONG_BINPUT", "MEMOIZE"):
            after += 1
        offset_op, offset, offset_pos = ops[after]  # the tensor's storage offset, next
        assert numel_op.name.startswith("BININT") and offset_op.name.startswith("BININT"), ops[i]
        width = {"BININT1": 2, "BININT2": 3, "BININT": 5}
        patched = (
            pickle_bytes[:numel_pos]
            + b"J" + struct.pack("<i", 2 * numel)
            + pickle_bytes[numel_pos + width[numel_op.name]:offset_pos]
            + b"J" + struct.pack("<i", numel)
            + pickle_bytes[offset_pos + width[offset_op.name]:]
        )
        return patched
    raise SystemExit("overclaim: no storage 0 in data.pkl")


def main():
    source, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    data = open(source, "rb").read()
    path = lambda name: os.path.join(out_dir, name)
    open(path("empty.pt"), "wb").close()
    open(path("magic.pt"), "wb").write(b"X" + data[1:])
    open(path("truncated.pt"), "wb").write(data[: len(data) // 2])

    records = storage_records(source)
    largest = max(records, key=records.get)
    with zipfile.ZipFile(source) as z:
        info = z.getinfo(largest)
    # The record's bytes start after its local header, name and extra field.
    header = data[info.header_offset : info.header_offset + 30]
    start = info.header_offset + 30 + struct.unpack("<H", header[26:28])[0]
    start += struct.unpack("<H", header[28:30])[0]
    flipped = bytearray(data)
    flipped[start + info.file_size // 2] ^= 0x10
    open(path("flipped.pt"), "wb").write(bytes(flipped))

    rewrite(source, path("missing.pt"),
            lambda name, bytes_: None if name.endswith("/data/0") else bytes_)

    by_size = {}
    for name, size in sorted(records.items()):
        by_size.setdefault(size, []).append(name)
    pair = next(names[:2] for names in by_size.values() if len(names) >= 2)
    with zipfile.ZipFile(source) as z:
        contents = {pair[0]: z.read(pair[1]), pair[1]: z.read(pair[0])}
    rewrite(source, path("swapped.pt"), lambda name, bytes_: contents.get(name, bytes_))

    rewrite(source, path("overclaim.pt"),
            lambda name, bytes_: overclaim(bytes_) if name.endswith("/data.pkl") else bytes_)
    print("wrote", ", ".join(sorted(os.listdir(out_dir))), "in", out_dir)


if __name__ == "__main__":
    main()
