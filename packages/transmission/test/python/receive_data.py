"""listen_for_transmissions in Python, for a TypeScript sender.

usage: receive_data.py <listener name> <count>
Emits `ready` once listening, then one `data` event per transmission, `done` after <count>.
"""
import sys
import threading

from common import deadline, emit, finish, sha256, wait_listening
import ipfs_datatransmission  # after common: it checks the environment first

deadline(150)
name, count = sys.argv[1], int(sys.argv[2])
received = []
all_in = threading.Event()


def on_data(data, peer_id):
    emit("data", peer=peer_id, size=len(data), sha256=sha256(data), head=bytes(data[:32]).hex())
    received.append(data)
    if len(received) >= count:
        all_in.set()


listener = ipfs_datatransmission.listen_for_transmissions(name, on_data)
wait_listening(name)
emit("ready", peer=ipfs_datatransmission.ipfs_client.peer_id)
all_in.wait(140)
emit("done", count=len(received))
finish(0, [listener.terminate])
