"""start_conversation from Python to a TypeScript conversation listener.

usage: conversation_start.py <peer id> <listener name> <conversation name> <turns> [encrypt]
Says "turn <n>: <random hex>" <turns> times, each time waiting for the answer, which must be
b"ts:" + the message reversed.
"""
import os
import sys

from common import client, deadline, decrypt, emit, encrypt, finish
import ipfs_datatransmission  # after common: it checks the environment first

deadline(150)
peer, listener, name, turns = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
callbacks = (encrypt, decrypt) if "encrypt" in sys.argv[5:] else None
conversation = ipfs_datatransmission.start_conversation(
    name, peer, listener, encryption_callbacks=callbacks, dir=os.getcwd()
)
emit("started", peer=client.peer_id)
for turn in range(turns):
    message = f"turn {turn}: {os.urandom(8).hex()}".encode()
    conversation.say(message)
    answer = bytes(conversation.listen(timeout=60))
    expected = b"ts:" + message[::-1]
    emit("answer", turn=turn, ok=answer == expected, answer=answer.decode(errors="replace"))
emit("done")
finish(0, [conversation.terminate])
