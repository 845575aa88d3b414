"""transmit_file from Python to a TypeScript file listener.

usage: send_file.py <peer id> <listener name> <file> <metadata as hex> [encrypt]
"""
import os
import sys

from common import deadline, decrypt, emit, encrypt, finish, sha256_file, wait_for
import ipfs_datatransmission  # after common: it checks the environment first

deadline(150)
peer, listener, path, metadata = sys.argv[1], sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4])
callbacks = (encrypt, decrypt) if "encrypt" in sys.argv[5:] else None
transmitter = ipfs_datatransmission.transmit_file(
    path, peer, listener, metadata=metadata, encryption_callbacks=callbacks
)
# transmit_file returns after the header; the blocks follow on the toolkit's threads after `ready`.
wait_for(lambda: transmitter.status == "finished", 120, "the file transfer")
emit("sent", name=os.path.basename(path), size=os.path.getsize(path), sha256=sha256_file(path))
finish(0)
