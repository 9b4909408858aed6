"""A `btcr dev` node for the client suites, started once per session.

The binary is `$BTCR_BIN`, else `target/debug/btcr` of this checkout (or of
`$CARGO_TARGET_DIR`).
"""

import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
# The Ethereum JSON-RPC specification (OpenRPC), kept in tests/conformance/.
SPEC = pathlib.Path(
    os.environ.get(
        "BTCR_OPENRPC",
        ROOT / "tests" / "conformance" / "ethereum-execution-apis-openrpc.json",
    )
)
CHAIN_ID = 1337
# The first dev accounts (test mnemonic, m/44'/60'/0'/0/i): public test keys.
DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
]


def btcr_binary():
    if "BTCR_BIN" in os.environ:
        return os.environ["BTCR_BIN"]
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return str(target / "debug" / "btcr")


class Node:
    def __init__(self, datadir):
        self.datadir = datadir
        self.process = subprocess.Popen(
            [btcr_binary(), "dev", "--datadir", datadir, "--rpc.addr", "127.0.0.1:0",
             "--block-time", "200ms", "--notify.allow-private-targets"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "BTCR_LOG": "warn"},
        )
        self.url = None
        for line in self.process.stdout:
            match = re.search(r"JSON-RPC\s+(http://\S+)", line)
            if match:
                self.url = match.group(1)
                break
        if self.url is None:
            raise RuntimeError("btcr dev exited before serving JSON-RPC")
        self.ws_url = self.url.replace("http://", "ws://")
        # Keep reading its output so that it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def node():
    datadir = tempfile.mkdtemp(prefix="btcr-clients-")
    n = Node(datadir)
    yield n
    n.stop()
    shutil.rmtree(datadir, ignore_errors=True)
