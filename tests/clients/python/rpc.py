"""Plain JSON-RPC over HTTP with the standard library, for the conformance suite."""

import json
import urllib.request


class RpcError(Exception):
    def __init__(self, error):
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = error.get("message")
        self.data = error.get("data")


def post(url, body):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def call(url, method, params=None):
    response = post(url, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    if "error" in response:
        raise RpcError(response["error"])
    return response["result"]
