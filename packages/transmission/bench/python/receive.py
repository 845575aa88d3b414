"""The benchmark's Python receiver: listen_for_transmissions or listen_for_file_transmissions.

usage: receive.py data <listener name> <deadline in s>
       receive.py file <listener name> <deadline in s> <directory>
Emits `ready` once Kubo lists the listener. Data: counts the messages; on
{"op": "count", "expected": N} it waits for N of them, then emits `count` with their number and
a digest of the set, and starts counting again. File: for each file, emits `file` with the
monotonic clock (ns) when the toolkit handed it over, then its SHA-256 and size, and deletes it.
"""
import os
import sys
import threading
import time

from common import (
    client,
    commands,
    deadline,
    digest_of_set,
    emit,
    finish,
    sha256,
    sha256_file,
    wait_for,
    wait_listening,
)
import ipfs_datatransmission  # after common: it checks the environment first

mode, name, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
deadline(seconds)
lock = threading.Lock()
digests = []


def on_data(data, peer_id):
    with lock:
        digests.append(sha256(data))


def on_file(peer_id, filepath, metadata):
    arrived = time.monotonic_ns()
    try:
        emit(
            "file",
            arrived=str(arrived),
            name=os.path.basename(filepath),
            size=os.path.getsize(filepath),
            sha256=sha256_file(filepath),
        )
        os.remove(filepath)
    except Exception as error:
        emit("error", message=f"{type(error).__name__}: {error}")


if mode == "data":
    listener = ipfs_datatransmission.listen_for_transmissions(name, on_data)
else:
    listener = ipfs_datatransmission.listen_for_file_transmissions(name, on_file, dir=sys.argv[4])
wait_listening(name)
emit("ready", peer=client.peer_id)

for command in commands():
    if command["op"] == "count":
        try:
            # The toolkit answers "Finished!" before it calls the handler (on a thread), so the
            # last messages may still be on their way in.
            wait_for(lambda: len(digests) >= command["expected"], 30, f"{command['expected']} messages")
        except TimeoutError as error:
            emit("error", message=str(error))
        with lock:
            emit("count", count=len(digests), digest=digest_of_set(digests))
            digests.clear()
    elif command["op"] == "exit":
        break
finish(0, [listener.terminate])
