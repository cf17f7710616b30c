#!/usr/bin/env python3
"""The reference bridge on a real Data folder: hundreds or thousands of contracts, most expired.

Has the release simulator write a folder (the first K of 24 roots, N expired contracts each back to
2000 at most, with R records each, plus the front contracts), starts the release bridge on it and prints, per folder: seconds until
/health answers, then over --idle seconds with no client the bridge's resident memory, open
descriptors and CPU (from /proc), then the same with SSE clients on NQ, ES and VX, and the
contracts tailed (from /health). The folders are deleted afterwards.

    swift build -c release && python3 scripts/measure-big-folder.py --folders 20x17x20000,24x1200x1000

Only loopback is used; nothing beyond the standard library.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOTS = "NQ,ES,VX,YM,RTY,CL,GC,ZB,ZN,ZF,6E,6J,6B,MES,MNQ,SI,HG,PL,NG,HO,RB,ZC,ZS,ZW".split(",")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def window(pid, seconds):
    """CPU % of a core, mean RSS and the most descriptors over `seconds`."""
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    rss, fds = [], []
    while time.monotonic() - t0 < seconds:
        time.sleep(0.5)
        rss.append(rss_mb(pid))
        fds.append(descriptors(pid))
    cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100
    return {"cpu_percent": round(cpu, 3), "rss_mb": round(sum(rss) / len(rss), 1), "descriptors": max(fds)}


def sse_client(port, stop):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", "/sse?symbols=NQ,ES,VX")
    response = connection.getresponse()
    while not stop.is_set():
        if not response.read1(65536):
            break
    connection.close()


def measure(bridge, folder, idle):
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen([bridge, "--data-dir", folder, "--port", str(port), "--log-level", "warning"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready = None
        while time.monotonic() - started < 60:
            try:
                get(f"http://127.0.0.1:{port}/health", timeout=5)
                ready = time.monotonic() - started
                break
            except Exception:
                time.sleep(0.005)
        symbols = json.loads(get(f"http://127.0.0.1:{port}/api/symbols"))
        time.sleep(1)
        alone = window(process.pid, idle)
        stop = threading.Event()
        clients = [threading.Thread(target=sse_client, args=(port, stop), daemon=True) for _ in range(3)]
        for client in clients:
            client.start()
        time.sleep(1)
        served = window(process.pid, idle)
        health = json.loads(get(f"http://127.0.0.1:{port}/health"))
        stop.set()
        return {"ready_s": round(ready, 3), "listed": len(symbols["contracts"]), "no_client": alone,
                "three_contracts": served, "tailed": health.get("bridge", {}).get("tailed")}
    finally:
        process.terminate()
        process.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folders", default="20x17x20000,24x1200x1000",
                        help="roots x expired contracts per root x records each, comma-separated")
    parser.add_argument("--idle", type=float, default=20, help="seconds measured without and with clients")
    parser.add_argument("--build", default=".build/release")
    args = parser.parse_args()
    bridge, simulator = os.path.join(args.build, "bridge"), os.path.join(args.build, "simulator")
    for tool in (bridge, simulator):
        if not os.access(tool, os.X_OK):
            sys.exit(f"no {tool}: swift build -c release first")
    for spec in args.folders.split(","):
        try:
            roots, expired, records = (int(part) for part in spec.split("x"))
        except ValueError:
            sys.exit(f"--folders takes ROOTSxCONTRACTSxRECORDS, e.g. 20x17x20000; got '{spec}'")
        if not 3 <= roots <= len(ROOTS):
            sys.exit(f"between 3 and {len(ROOTS)} roots, got {roots}")
        folder = tempfile.mkdtemp(prefix="bridgelab-folder-")
        try:
            subprocess.run([simulator, "--data-dir", folder, "--symbols", ",".join(ROOTS[:roots]), "--expired-contracts", str(expired),
                            "--expired-records", str(records), "--duration", "0.2", "--no-depth", "-q"], check=True)
            files = [name for name in os.listdir(folder) if name.endswith(".scid")]
            size = sum(os.path.getsize(os.path.join(folder, name)) for name in files)
            result = measure(bridge, folder, args.idle)
            print(json.dumps({"files": len(files), "mb": round(size / 1e6), **result}))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
