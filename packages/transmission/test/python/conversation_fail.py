"""listen_for_conversations in Python with a handler that fails: the request is taken, nobody joins.

usage: conversation_fail.py <listener name> <seconds to stay>
Emits `request` when the handler is called (it then raises), and stays up for <seconds to stay>.
"""
import sys
import threading

from common import client, deadline, emit, finish, wait_listening
import ipfs_datatransmission  # after common: it checks the environment first

name, stay = sys.argv[1], float(sys.argv[2])
deadline(stay + 30)


def on_request(conversation_name, peer_id):
    emit("request", name=conversation_name, peer=peer_id)
    raise RuntimeError("the handler broke")


listener = ipfs_datatransmission.listen_for_conversations(name, on_request)
wait_listening(name)
emit("ready", peer=client.peer_id)
threading.Event().wait(stay)
finish(0, [listener.terminate])
