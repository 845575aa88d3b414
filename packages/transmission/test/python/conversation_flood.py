"""start_conversation from Python to a TypeScript listener whose reader does not keep up.

usage: conversation_flood.py <peer id> <listener name> <conversation name> <count> <size> <timeout s> <big size>
Says one message of <big size> bytes (event `said` with index -1), waits for the TypeScript side
to say "go", then says up to <count> messages of <size> random bytes, each with a say() timeout of
<timeout s> and no retry, and stops at the first that fails. Each say() returns once the receiver
answered `Finished!`; events `said` carry ok and the message's SHA-256, or the error's name.
"""
import os
import sys

from common import client, deadline, emit, finish, sha256
import ipfs_datatransmission  # after common: it checks the environment first

deadline(170)
peer, listener, name = sys.argv[1], sys.argv[2], sys.argv[3]
count, size, timeout_sec, big = (int(value) for value in sys.argv[4:8])
conversation = ipfs_datatransmission.start_conversation(name, peer, listener, dir=os.getcwd())
emit("started", peer=client.peer_id)
message = os.urandom(big)
try:
    conversation.say(message, timeout_sec=60)
except BaseException:
    import traceback
    emit("error", message=traceback.format_exc())
    finish(1)
emit("said", index=-1, ok=True, sha=sha256(message))
go = bytes(conversation.listen(timeout=60))
emit("go", text=go.decode(errors="replace"))
for index in range(count):
    message = os.urandom(size)
    try:
        conversation.say(message, timeout_sec=timeout_sec, max_retries=1)
    except BaseException as error:  # the test wants to know which failure ended the run
        emit("said", index=index, ok=False, error=type(error).__name__)
        break
    emit("said", index=index, ok=True, sha=sha256(message))
emit("done")
finish(0, [conversation.terminate])
