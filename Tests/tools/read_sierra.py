#!/usr/bin/env python3
"""An independent reader of Sierra Chart .scid and .depth files, written from
shared/formats/SIERRA_CHART_FILES.md with nothing but the standard library.

Usage: read_sierra.py DATA_DIR  -> prints JSON: for every file, its record count, partial bytes,
and the first and last records, so a test can compare it with BridgeLab's own decoder.
"""
import json
import os
import struct
import sys

SC_TO_UNIX_US = 2_209_161_600_000_000


def decode_time(raw8):
    (as_int,) = struct.unpack("<q", raw8)
    top = raw8[7]
    if 0x3E <= top <= 0x41 or 0xBD <= top <= 0xC1:
        (days,) = struct.unpack("<d", raw8)
        return round(days * 86_400_000) * 1000
    return as_int


def read_scid(path):
    data = open(path, "rb").read()
    magic, header_size, record_size, version = struct.unpack_from("<4sIIH", data, 0)
    if magic != b"SCID" or header_size != 56 or record_size != 40:
        raise ValueError(f"{path}: not a SCID v1 file")
    body = data[56:]
    records = []
    for i in range(len(body) // 40):
        chunk = body[i * 40:(i + 1) * 40]
        o, h, l, c = struct.unpack_from("<ffff", chunk, 8)
        n, v, bv, av = struct.unpack_from("<IIII", chunk, 24)
        records.append({"sc_us": decode_time(chunk[:8]), "open": o, "high": h, "low": l, "close": c,
                        "num_trades": n, "total_volume": v, "bid_volume": bv, "ask_volume": av})
    return records, len(body) % 40


def read_depth(path):
    data = open(path, "rb").read()
    magic, header_size, record_size, version = struct.unpack_from("<4sIII", data, 0)
    if magic != b"SCDD" or header_size != 64 or record_size != 24:
        raise ValueError(f"{path}: not a SCDD v1 file")
    body = data[64:]
    records = []
    for i in range(len(body) // 24):
        t, cmd, flags, orders, price, qty, _ = struct.unpack_from("<qBBHfII", body, i * 24)
        records.append({"sc_us": t, "command": cmd, "flags": flags, "num_orders": orders, "price": price, "quantity": qty})
    return records, len(body) % 24


def summarise(records, partial):
    return {"count": len(records), "partial_bytes": partial,
            "first": records[0] if records else None, "last": records[-1] if records else None,
            "volume": sum(r.get("total_volume", r.get("quantity", 0)) for r in records)}


def main():
    root = sys.argv[1]
    out = {}
    for name in sorted(os.listdir(root)):
        if name.endswith(".scid"):
            out[name] = summarise(*read_scid(os.path.join(root, name)))
    depth_dir = os.path.join(root, "MarketDepthData")
    if os.path.isdir(depth_dir):
        for name in sorted(os.listdir(depth_dir)):
            if name.endswith(".depth"):
                out["MarketDepthData/" + name] = summarise(*read_depth(os.path.join(depth_dir, name)))
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
