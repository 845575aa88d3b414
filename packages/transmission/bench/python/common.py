"""Shared set-up for the benchmark's Python IPFS-Toolkit (PyPI IPFS-Toolkit 0.5.33) peers, driven
by ../python.bench.mjs: the same conventions as test/python/common.py.

The benchmark starts each script with PY_IPFS_HTTP_CLIENT_DEFAULT_ADDR pointing at one of its Kubo
nodes and sends it commands, one JSON object a line, on stdin. Events go to stdout as lines
`@@ <json>`; anything else the toolkit prints is ignored. A script ends (os._exit) when its stdin
closes, on `{"op": "exit"}`, or at its deadline, so no thread of the toolkit, which starts
non-daemon threads, can keep it alive.
"""
import hashlib
import json
import os
import resource
import sys
import threading
import time

if "PY_IPFS_HTTP_CLIENT_DEFAULT_ADDR" not in os.environ:
    print("PY_IPFS_HTTP_CLIENT_DEFAULT_ADDR must name the Kubo node's API", file=sys.stderr)
    os._exit(2)

# Imported after the check: ipfs_api builds its HTTP client (from that variable) at import time.
import ipfs_api  # noqa: E402

client = ipfs_api.client
_lock = threading.Lock()


def emit(event, **fields):
    """One event line for the benchmark."""
    with _lock:
        sys.stdout.write("@@ " + json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()


def peak_rss():
    """This process's peak resident set size in bytes (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def finish(code=0, cleanups=()):
    """Runs the clean-ups (each bounded), reports the peak RSS, then ends the process whatever
    threads are left."""
    for cleanup in cleanups:
        worker = threading.Thread(target=cleanup, daemon=True)
        worker.start()
        worker.join(5)
    emit("exit", peakRss=peak_rss())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def deadline(seconds):
    """Ends the process with an `error` event if it is still running after `seconds`."""

    def expire():
        emit("error", message=f"deadline of {seconds}s reached")
        finish(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def commands():
    """The benchmark's commands, until stdin closes."""
    for line in sys.stdin:
        if line.strip():
            yield json.loads(line)


def sha256(data):
    return hashlib.sha256(bytes(data)).hexdigest()


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as reader:
        for block in iter(lambda: reader.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_of_set(digests):
    """One digest for a set of messages, whatever order they arrived in (the toolkit calls each
    handler on a thread of its own)."""
    return sha256("".join(sorted(digests)).encode())


def wait_for(predicate, seconds, what, interval=0.005):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} did not happen within {seconds}s")


def wait_listening(name, seconds=20):
    """ipfs_tk registers a listener's tunnel on a thread of its own, after the call returned:
    wait until Kubo lists `/x/<name>`, so that the benchmark only sends once something listens."""

    def listening():
        try:
            return f"/x/{name}" in [tunnel.name for tunnel in client.tunnels.get_tunnels().listeners]
        except Exception:
            # p2p ls lists null (which ipfs_remote cannot iterate) while there is no tunnel yet.
            return False

    wait_for(listening, seconds, f"listening on /x/{name}", interval=0.05)
