"""listen_for_file_transmissions in Python, for a TypeScript sender.

usage: receive_files.py <listener name> <count> <directory> [encrypt]
"""
import os
import sys
import threading

from common import client, deadline, decrypt, emit, encrypt, finish, sha256_file, wait_listening
import ipfs_datatransmission  # after common: it checks the environment first

deadline(150)
name, count, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
callbacks = (encrypt, decrypt) if "encrypt" in sys.argv[4:] else None
received = []
all_in = threading.Event()


def on_file(peer_id, filepath, metadata):
    emit(
        "file",
        peer=peer_id,
        name=os.path.basename(filepath),
        size=os.path.getsize(filepath),
        sha256=sha256_file(filepath),
        metadata=bytes(metadata).hex(),
    )
    received.append(filepath)
    if len(received) >= count:
        all_in.set()


listener = ipfs_datatransmission.listen_for_file_transmissions(
    name, on_file, dir=directory, encryption_callbacks=callbacks
)
wait_listening(name)
emit("ready", peer=client.peer_id)
all_in.wait(140)
emit("done", count=len(received))
finish(0, [listener.terminate])
