"""Shared set-up for the scripts that drive the Python IPFS-Toolkit (PyPI IPFS-Toolkit 0.5.33)
against @tk/transmission in test/python-compat.test.ts.

The test starts each script with PY_IPFS_HTTP_CLIENT_DEFAULT_ADDR pointing at one of its Kubo
nodes. Events go to stdout as lines `@@ <json>`; anything else the toolkit prints is ignored by
the test. Every script ends itself (os._exit) by a deadline, so no thread of the toolkit, which
starts non-daemon threads, can keep it alive.
"""
import hashlib
import json
import os
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
    """One event line for the test."""
    with _lock:
        sys.stdout.write("@@ " + json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()


def finish(code=0, cleanups=()):
    """Runs the clean-ups (each bounded), then ends the process whatever threads are left."""
    for cleanup in cleanups:
        worker = threading.Thread(target=cleanup, daemon=True)
        worker.start()
        worker.join(5)
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


def sha256(data):
    return hashlib.sha256(bytes(data)).hexdigest()


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as reader:
        for block in iter(lambda: reader.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# The test's cipher, the same on the TypeScript side: not secret, but a side that forgets to
# encrypt or to decrypt fails loudly (decrypt refuses what lacks the marker).
MARKER = b"ENC"


def encrypt(data):
    return MARKER + bytes(byte ^ 0x5A for byte in bytes(data))


def decrypt(data):
    data = bytes(data)
    if not data.startswith(MARKER):
        raise ValueError("not encrypted with the test cipher")
    return bytes(byte ^ 0x5A for byte in data[len(MARKER):])


def wait_for(predicate, seconds, what):
    end = time.time() + seconds
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {seconds}s")


def wait_listening(name, seconds=20):
    """ipfs_tk registers a listener's tunnel on a thread of its own, after the call returned:
    wait until Kubo lists `/x/<name>`, so that the test only sends once something listens."""

    def listening():
        try:
            return f"/x/{name}" in [tunnel.name for tunnel in client.tunnels.get_tunnels().listeners]
        except Exception:
            # p2p ls lists null (which ipfs_remote cannot iterate) while there is no tunnel yet.
            return False

    wait_for(listening, seconds, f"listening on /x/{name}")
