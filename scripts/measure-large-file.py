#!/usr/bin/env python3
"""The reference bridge on a `.scid` of a real size: start-up time, memory, first snapshot.

Writes one NQ file of --records trade records spread over --days days (the last day is today's
session) with numpy, starts the release bridge on it in each mode, and prints, per mode: seconds
until /health answers, seconds until the first /api/live_data/NQ answers (and a second one), the
bridge's peak and final resident memory (VmHWM, VmRSS). The file is deleted afterwards.

    swift build -c release && python3 scripts/measure-large-file.py --records 25000000

Only loopback is used. numpy is needed (pip install numpy).
"""
import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

SC_EPOCH_OFFSET_US = 2_209_161_600_000_000  # 1899-12-30 → 1970-01-01
DAY_US = 86_400_000_000


def write_scid(path, records, days):
    """`records` trades over `days` UTC days ending today, prices on a 0.25 grid around 21,000."""
    dtype = np.dtype([("t", "<i8"), ("open", "<f4"), ("high", "<f4"), ("low", "<f4"), ("close", "<f4"),
                      ("trades", "<u4"), ("volume", "<u4"), ("bidvol", "<u4"), ("askvol", "<u4")])
    today = int(time.time() * 1e6) // DAY_US * DAY_US
    first = today - (days - 1) * DAY_US
    header = b"SCID" + struct.pack("<IIHHI", 56, 40, 1, 0, 0) + bytes(36)
    rng = np.random.default_rng(7)
    chunk = 1_000_000
    with open(path, "wb") as f:
        f.write(header)
        price = 21_000.0
        for start in range(0, records, chunk):
            n = min(chunk, records - start)
            index = np.arange(start, start + n, dtype=np.int64)
            # Even spacing over the days, in time order; the last record is just before now.
            span = (int(time.time() * 1e6) - 1_000_000) - first
            t = first + (index.astype(np.float64) * (span / max(1, records - 1))).astype(np.int64)
            steps = rng.integers(-1, 2, n).astype(np.float64) * 0.25
            closes = price + np.cumsum(steps)
            price = float(closes[-1])
            rec = np.zeros(n, dtype=dtype)
            rec["t"] = t + SC_EPOCH_OFFSET_US
            rec["close"] = closes
            rec["low"] = closes - 0.25
            rec["high"] = closes + 0.25
            rec["trades"] = 1
            size = rng.integers(1, 10, n, dtype=np.uint32)
            rec["volume"] = size
            side = (index % 2 == 0)
            rec["askvol"] = np.where(side, size, 0)
            rec["bidvol"] = np.where(side, 0, size)
            f.write(rec.tobytes())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = int(value.split()[0]) / 1024
    return fields


def get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def measure(bridge, folder, mode):
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen([bridge, "--data-dir", folder, "--port", str(port), "--mode", mode, "--log-level", "warning"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        health = None
        while time.monotonic() - started < 120:
            try:
                get(f"http://127.0.0.1:{port}/health", timeout=5)
                health = time.monotonic() - started
                break
            except Exception:
                time.sleep(0.01)
        before = time.monotonic()
        snapshot = json.loads(get(f"http://127.0.0.1:{port}/api/live_data/NQ"))
        first = time.monotonic() - before
        before = time.monotonic()
        get(f"http://127.0.0.1:{port}/api/live_data/NQ")
        second = time.monotonic() - before
        memory = status(process.pid)
        return {"mode": mode, "health_s": health, "first_snapshot_s": first, "second_snapshot_s": second,
                "peak_rss_mb": memory.get("VmHWM"), "rss_mb": memory.get("VmRSS"),
                "session_trades": snapshot.get("trades"), "seq": snapshot.get("seq")}
    finally:
        process.terminate()
        process.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=25_000_000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--bridge", default=".build/release/bridge")
    parser.add_argument("--modes", default="event,polling-cached,polling-naive")
    args = parser.parse_args()
    if args.records < 1 or args.days < 1:
        sys.exit("--records and --days must be at least 1")
    if not os.access(args.bridge, os.X_OK):
        sys.exit(f"no bridge at {args.bridge}: swift build -c release first")
    folder = tempfile.mkdtemp(prefix="bridgelab-large-")
    try:
        path = os.path.join(folder, "NQZ26-CME.scid")
        started = time.monotonic()
        write_scid(path, args.records, args.days)
        size = os.path.getsize(path)
        print(json.dumps({"file": path, "records": args.records, "days": args.days, "bytes": size,
                          "written_s": round(time.monotonic() - started, 2)}))
        for mode in args.modes.split(","):
            print(json.dumps(measure(args.bridge, folder, mode)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
