#!/usr/bin/env python3
"""How small depth deltas can be at a given flush: the bridge's deltas, and two compactions of them.

Runs the release simulator (NQ, ES, VX at --rate records/s, flushed every --flush-ms) and the
release bridge on a temporary folder, follows quotes, depth and stats for --seconds with a Python
`websockets` client (a standard client, unmodified), and prints the mean size of each message type
and of the snapshots. It then replays every depth delta against the book the client holds and
prints what two compactions would make of them:

- `orders kept`: a level whose order count did not change leaves it out (`[price, quantity]`);
- `and truncation`: also leaves out the removal of a level that falls below the top ten anyway
  (a client would truncate its own book).

Last, it prints the budget an 80 % reduction would leave each changed level of a depth delta, the
quote and stats deltas kept as they are.

The ratio printed is the plan's KPI: 1 - mean delta message bytes / mean snapshot bytes.

    swift build -c release
    examples/plan-bridge/setup.sh      # a virtual environment with websockets
    examples/plan-bridge/.venv/bin/python scripts/measure-depth-deltas.py --flush-ms 1000

Only loopback is used.
"""
import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, ".build", "release")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def capture(port, seconds):
    messages = []
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
        await ws.send(json.dumps({"op": "subscribe", "symbols": ["NQ", "ES", "VX"], "channels": ["quotes", "depth", "stats"]}))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                messages.append(await asyncio.wait_for(ws.recv(), 1))
            except asyncio.TimeoutError:
                pass
    return messages


def envelope(m):
    """A depth message's bytes with its level lists emptied: what it costs before its levels."""
    return len(json.dumps({**m, **{side: [] for side in ("bids", "asks") if side in m}}, separators=(",", ":")))


def compact(depth_deltas, snapshots, levels):
    """Replays the deltas on the books of the snapshots; the two compactions' message sizes."""
    books = {m["contract"]: {side: {l[0]: (l[1], l[2]) for l in m["depth"][side]} for side in ("bids", "asks")} for m in snapshots}
    kept, truncated = [], []
    for m in depth_deltas:
        book = books[m["contract"]]
        size_kept = size_truncated = envelope(m)
        for side in ("bids", "asks"):
            if side not in m:
                continue
            before = dict(book[side])
            mine, theirs = [], []
            for level in m[side]:
                price = level[0]
                if level[1] == 0:
                    book[side].pop(price, None)
                    mine.append([price, 0])
                    ranked = sorted(list(book[side]) + [price], reverse=side == "bids")
                    if price in ranked[:levels]:
                        theirs.append([price, 0])
                    continue
                quantity, orders = level[1], level[2]
                short = price in before and before[price][1] == orders
                entry = [price, quantity] if short else [price, quantity, orders]
                mine.append(entry)
                theirs.append(entry)
                book[side][price] = (quantity, orders)
            for price in sorted(book[side], reverse=side == "bids")[levels:]:
                book[side].pop(price)
            # The levels inside the side's brackets, which the envelope already counts.
            size_kept += len(json.dumps(mine, separators=(",", ":"))) - 2
            size_truncated += len(json.dumps(theirs, separators=(",", ":"))) - 2
        kept.append(size_kept)
        truncated.append(size_truncated)
    return kept, truncated


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flush-ms", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--seconds", type=float, default=25)
    parser.add_argument("--levels", type=int, default=10)
    args = parser.parse_args()
    for name in ("simulator", "bridge"):
        if not os.access(os.path.join(RELEASE, name), os.X_OK):
            sys.exit(f"{RELEASE}/{name} is not built: swift build -c release")
    folder = tempfile.mkdtemp(prefix="bridgelab-deltas-")
    port = free_port()
    children = []
    try:
        children.append(subprocess.Popen(
            [os.path.join(RELEASE, "simulator"), "run", "--data-dir", folder, "--symbols", "NQ,ES,VX", "--rate", str(args.rate),
             "--flush-ms", str(args.flush_ms), "--depth-levels", str(args.levels), "--duration", str(args.seconds + 10), "-q"]))
        time.sleep(2)
        children.append(subprocess.Popen([os.path.join(RELEASE, "bridge"), "--data-dir", folder, "--port", str(port)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("the bridge did not listen within 20 s")
                time.sleep(0.1)
        raw = asyncio.run(capture(port, args.seconds))
    finally:
        for child in children:
            child.terminate()
            child.wait()
        shutil.rmtree(folder, ignore_errors=True)

    messages = [(len(text.encode()), json.loads(text)) for text in raw]
    sizes = {}
    for size, m in messages:
        sizes.setdefault(m["type"], []).append(size)
    snapshots = [m for _, m in messages if m["type"] == "snapshot"]
    deltas = [(size, m) for size, m in messages if m["type"] in ("quote", "stats", "depth") and not m.get("full")]
    depth = [m for _, m in deltas if m["type"] == "depth"]
    if not snapshots or not depth:
        sys.exit("no snapshot or no depth delta received")
    snapshot = statistics.mean(sizes["snapshot"])
    print(f"flush {args.flush_ms} ms, {args.rate:g} records/s, {args.seconds:g} s: {len(messages)} messages")
    for kind in ("snapshot", "quote", "stats", "depth"):
        if kind in sizes:
            print(f"  {kind:9} {len(sizes[kind]):5} messages, {statistics.mean(sizes[kind]):6.1f} B on average")
    levels = statistics.mean(len(m.get("bids", [])) + len(m.get("asks", [])) for m in depth)
    print(f"  a depth delta carries {levels:.1f} levels on average")
    others = [size for size, m in deltas if m["type"] != "depth"]

    def ratio(depth_sizes):
        return 100 * (1 - statistics.mean(others + depth_sizes) / snapshot)

    kept, truncated = compact(depth, snapshots, args.levels)
    print(f"  deltas smaller than snapshots: {ratio([s for s, m in deltas if m['type'] == 'depth']):.1f} % as sent")
    print(f"    depth {statistics.mean(kept):.1f} B with unchanged order counts left out: {ratio(kept):.1f} %")
    print(f"    depth {statistics.mean(truncated):.1f} B and removals below the top {args.levels} left out: {ratio(truncated):.1f} %")

    # What an 80 % reduction would leave a depth delta, the other deltas kept as sent: the bytes
    # left per changed level once its header (everything but the levels) is paid.
    allowed = 0.2 * snapshot * (len(others) + len(depth)) - sum(others)
    per_delta = allowed / len(depth)
    header = statistics.mean(envelope(m) for m in depth)
    print(f"  80 % would allow a depth delta {per_delta:.1f} B on average: {header:.1f} B of header, then"
          f" {(per_delta - header) / levels:.1f} B per changed level")
    print("    (the shortest JSON level, [tick offset, quantity] with one digit each and its comma, takes 6 B)")


if __name__ == "__main__":
    main()
