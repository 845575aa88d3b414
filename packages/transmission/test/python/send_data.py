"""transmit_data from Python to a TypeScript listener.

usage: send_data.py <peer id> <listener name>
Sends a short text, 1 MiB of random bytes and the 256 byte values, and emits each one's digest.
"""
import os
import sys

from common import deadline, emit, finish, sha256
import ipfs_datatransmission  # after common: it checks the environment first

deadline(150)
peer, listener = sys.argv[1], sys.argv[2]
messages = [
    ("text", "héllo from Python".encode()),
    ("random", os.urandom(1024 * 1024)),
    ("every-byte", bytes(range(256))),
]
emit("id", peer=ipfs_datatransmission.ipfs_client.peer_id)
for name, data in messages:
    ipfs_datatransmission.transmit_data(data, peer, listener)
    emit("sent", name=name, size=len(data), sha256=sha256(data))
emit("done")
finish(0)
