"""The benchmark's Python sender: transmit_data and transmit_file to a listener on the other node.

usage: send.py <peer id> <listener name> <deadline in s>
Commands (stdin, JSON lines):
  {"op": "data", "count": N, "size": S}  N messages of S random bytes, one after the other; emits
      `data` with each one's latency (ms, until transmit_data returned, i.e. the listener answered
      "Finished!"), the seconds for all N and a digest of the set of messages.
  {"op": "file", "path": P}  transmit_file(P); emits `file-sent` with the monotonic clock (ns, as a string) just
      before the call, once the toolkit reports the transfer finished.
  {"op": "exit"}
"""
import os
import sys
import time

from common import commands, deadline, digest_of_set, emit, finish, sha256, wait_for
import ipfs_datatransmission  # after common: it checks the environment first

peer, listener, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
deadline(seconds)
emit("ready", peer=ipfs_datatransmission.ipfs_client.peer_id)

for command in commands():
    try:
        if command["op"] == "data":
            messages = [os.urandom(command["size"]) for _ in range(command["count"])]
            latencies = []
            started = time.perf_counter()
            for message in messages:
                began = time.perf_counter()
                ipfs_datatransmission.transmit_data(message, peer, listener)
                latencies.append((time.perf_counter() - began) * 1000)
            elapsed = time.perf_counter() - started
            emit(
                "data",
                latencies=latencies,
                seconds=elapsed,
                digest=digest_of_set(sha256(message) for message in messages),
            )
        elif command["op"] == "file":
            started = time.monotonic_ns()
            transmitter = ipfs_datatransmission.transmit_file(command["path"], peer, listener)
            # transmit_file returns after the header; the blocks follow on the toolkit's threads
            # once the receiver said `ready`.
            wait_for(lambda: transmitter.status == "finished", command.get("timeout", 600), "the file transfer")
            emit("file-sent", started=str(started), seconds=(time.monotonic_ns() - started) / 1e9)
        elif command["op"] == "exit":
            break
    except Exception as error:
        emit("error", message=f"{type(error).__name__}: {error}")
finish(0)
