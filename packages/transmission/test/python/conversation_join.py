"""listen_for_conversations in Python; joins the first request and answers each message.

usage: conversation_join.py <listener name> <turns> <file to send back> <directory> [encrypt]
For each of <turns> messages: replies b"py:" + the message reversed. Then receives one file on
the conversation and sends <file to send back> on it.
"""
import os
import sys
import threading

from common import client, deadline, decrypt, emit, encrypt, finish, sha256, sha256_file, wait_for, wait_listening
import ipfs_datatransmission  # after common: it checks the environment first

deadline(170)
name, turns, back, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
callbacks = (encrypt, decrypt) if "encrypt" in sys.argv[5:] else None
joined = []
ready = threading.Event()


def on_request(conversation_name, peer_id):
    emit("request", name=conversation_name, peer=peer_id)
    conversation = ipfs_datatransmission.join_conversation(
        conversation_name, peer_id, conversation_name, encryption_callbacks=callbacks, dir=directory
    )
    joined.append(conversation)
    ready.set()


listener = ipfs_datatransmission.listen_for_conversations(name, on_request)
wait_listening(name)
emit("ready", peer=client.peer_id)
if not ready.wait(60):
    emit("error", message="no conversation request")
    finish(1, [listener.terminate])
conversation = joined[0]
for turn in range(turns):
    message = conversation.listen(timeout=60)
    emit("heard", turn=turn, sha256=sha256(message), size=len(message))
    conversation.say(b"py:" + bytes(message)[::-1])
received = conversation.listen_for_file(abs_timeout=90)
path = received["filepath"]
emit(
    "file",
    name=os.path.basename(path),
    size=os.path.getsize(path),
    sha256=sha256_file(path),
    metadata=bytes(received["metadata"]).hex(),
)
transmitter = conversation.transmit_file(back, metadata=b"from python")
# transmit_file returns after the header; the blocks follow on the toolkit's threads after `ready`.
wait_for(lambda: transmitter.status == "finished", 90, "the file transfer")
emit("sent", name=os.path.basename(back), sha256=sha256_file(back))
finish(0, [conversation.terminate, listener.terminate])
