"""The REST API's OpenAPI 3.1 document against the specification (openapi-spec-validator),
and every endpoint's real answers against the document's schemas, with undeclared fields
refused: the document describes what the node serves."""

import base64
import copy
import hashlib
import hmac
import http.server
import json
import os
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest
from eth_account import Account
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from web3 import Web3

from conftest import DEV_KEYS, btcr_binary
from test_web3py import TOKEN, send


def get(node, path):
    return call(node, "GET", path)


def call(node, method, path, body=None, token=None):
    """`method path` with a JSON body and a bearer token; the status and the JSON answer
    (None for an empty one)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(node.url.rstrip("/") + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, json.loads(text) if text else None


def closed(schema):
    """The schema with every object schema refusing properties it does not declare."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node:
                node.setdefault("additionalProperties", False)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


@pytest.fixture(scope="module")
def document(node):
    status, doc = get(node, "/api/v1/openapi.json")
    assert status == 200
    return doc


def check(document, template, status, body, method="get"):
    """`body` against the schema the document gives `template`'s `status` answer."""
    response = document["paths"][template][method]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    root = {**schema, "components": closed(document["components"])}
    errors = sorted(Draft202012Validator(root).iter_errors(body), key=str)
    assert not errors, f"{template} {status}: {errors[0].message} at {list(errors[0].absolute_path)}"


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)


ACCOUNTS = ("/api/v1/auth/", "/api/v1/me", "/api/v1/admin/", "/api/v1/settings")


def totp(secret, steps=0):
    """RFC 6238: the code of a base32 secret, `steps` steps of 30 s from now."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = struct.pack(">Q", int(time.time()) // 30 + steps)
    mac = hmac.new(key, counter, hashlib.sha1).digest()
    at = mac[19] & 0xF
    return f"{(struct.unpack('>I', mac[at:at + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def expecter(node, document, seen):
    """`expect(method, template, status, …)`: calls the node, checks the status is the one
    expected and documented and the answer matches its schema, and records the operation
    in `seen`."""

    def expect(method, template, status, path=None, body=None, token=None):
        got, answer = call(node, method.upper(), path or template, body, token)
        assert got == status, f"{method} {path or template}: {got} {answer}"
        responses = document["paths"][template][method]["responses"]
        assert str(status) in responses, f"{method} {template} does not document {status}"
        if answer is not None:
            check(document, template, status, answer, method)
        else:
            assert "content" not in responses[str(status)], f"{method} {template} {status} has a body"
        seen.add((method, template))
        return answer

    return expect


def documented(document, prefixes, apart=()):
    """The operations of the paths under `prefixes` (and not under `apart`)."""
    return {(m, p) for p, item in document["paths"].items()
            if p.startswith(prefixes) and not p.startswith(apart) for m in item}


def test_every_accounts_answer_matches_the_document(node, document):
    seen = set()
    expect = expecter(node, document, seen)
    expect("get", "/api/v1/settings", 200)
    user = {"email": "schema@btcr.test", "password": "a long password for the schema"}
    expect("post", "/api/v1/auth/register", 201, body=user)
    expect("post", "/api/v1/auth/register", 409, body=user)
    expect("post", "/api/v1/auth/login", 401, body={**user, "password": "wrong password here"})
    signed = expect("post", "/api/v1/auth/login", 200, body={**user, "refreshTokenInBody": True})
    signed = expect("post", "/api/v1/auth/refresh", 200, body={"refreshToken": signed["refreshToken"]})
    token = signed["accessToken"]
    me = expect("get", "/api/v1/me", 200, token=token)
    expect("get", "/api/v1/me", 401)
    sessions = expect("get", "/api/v1/me/sessions", 200, token=token)
    assert sessions[0]["id"] == me["session"]

    # TOTP on, a login through the challenge, recovery codes, TOTP off.
    setup = expect("post", "/api/v1/me/totp", 200, token=token)
    expect("post", "/api/v1/me/totp/confirm", 400, body={"code": "12345"}, token=token)
    codes = expect("post", "/api/v1/me/totp/confirm", 200, body={"code": totp(setup["secret"])}, token=token)
    challenge = expect("post", "/api/v1/auth/login", 200, body={**user, "refreshTokenInBody": True})
    other = expect("post", "/api/v1/auth/login/totp", 200,
                   body={"challenge": challenge["challenge"], "code": codes["recoveryCodes"][0], "refreshTokenInBody": True})
    expect("delete", "/api/v1/me/sessions/{id}", 204, path=f"/api/v1/me/sessions/{other['session']}", token=token)
    expect("delete", "/api/v1/me/sessions/{id}", 404, path="/api/v1/me/sessions/nothing", token=token)
    fresh = expect("post", "/api/v1/me/recovery-codes", 200, body={"code": totp(setup["secret"], 1)}, token=token)
    expect("delete", "/api/v1/me/totp", 400, body={"code": codes["recoveryCodes"][1]}, token=token)
    expect("delete", "/api/v1/me/totp", 204, body={"code": fresh["recoveryCodes"][0]}, token=token)

    # API keys, the keystore backup and the watch list.
    made = expect("post", "/api/v1/me/api-keys", 201, body={"name": "schema", "scopes": ["read", "write"]}, token=token)
    key = made["secret"]
    expect("get", "/api/v1/me/api-keys", 200, token=token)
    expect("get", "/api/v1/me/keystore", 404, token=key)
    keystore = Account.encrypt(DEV_KEYS[3], "keystore password", kdf="pbkdf2", iterations=1000)
    expect("put", "/api/v1/me/keystore", 200, body={"keystore": keystore}, token=key)
    expect("put", "/api/v1/me/keystore", 400, body={"keystore": {"version": 3}}, token=key)
    expect("get", "/api/v1/me/keystore", 200, token=key)
    expect("delete", "/api/v1/me/keystore", 204, token=key)
    watched = "0x00000000000000000000000000000000000000c2"
    expect("post", "/api/v1/me/watchlist", 200, body={"address": watched, "label": "schema"}, token=key)
    expect("post", "/api/v1/me/watchlist", 400, body={"address": "0x12"}, token=key)
    expect("get", "/api/v1/me/watchlist", 200, token=key)
    expect("delete", "/api/v1/me/watchlist/{address}", 204, path=f"/api/v1/me/watchlist/{watched}", token=key)
    expect("delete", "/api/v1/me/api-keys/{id}", 204, path=f"/api/v1/me/api-keys/{made['key']['id']}", token=token)
    expect("delete", "/api/v1/me/api-keys/{id}", 404, path=f"/api/v1/me/api-keys/{made['key']['id']}", token=token)

    # An administrator, made on the command line in the node's own database.
    expect("get", "/api/v1/admin/users", 403, token=token)
    with tempfile.TemporaryDirectory() as scratch:
        password_file = os.path.join(scratch, "password")
        with open(password_file, "w") as f:
            f.write("the administrator's long password\n")
        subprocess.run([btcr_binary(), "accounts", "--datadir", node.datadir, "create-admin",
                        "--email", "root@btcr.test", "--password-file", password_file], check=True, capture_output=True)
    root = expect("post", "/api/v1/auth/login", 200,
                  body={"email": "root@btcr.test", "password": "the administrator's long password"})["accessToken"]
    expect("get", "/api/v1/admin/users", 200, path="/api/v1/admin/users?search=schema&limit=10", token=root)
    expect("get", "/api/v1/admin/users", 400, path="/api/v1/admin/users?limit=1000", token=root)
    expect("patch", "/api/v1/admin/users/{id}", 200, path=f"/api/v1/admin/users/{me['id']}", body={"role": "admin"}, token=root)
    expect("patch", "/api/v1/admin/users/{id}", 404, path="/api/v1/admin/users/999999", body={"disabled": True}, token=root)
    expect("get", "/api/v1/admin/audit", 200, path="/api/v1/admin/audit?limit=1000", token=root)
    expect("get", "/api/v1/admin/stats", 200, token=root)
    settings = expect("get", "/api/v1/admin/settings", 200, token=root)
    expect("put", "/api/v1/admin/settings", 200, body={**settings, "banner": "schema check"}, token=root)
    expect("put", "/api/v1/admin/settings", 400, body={**settings, "extra": 1}, token=root)

    # Password, then the end of the session.
    expect("put", "/api/v1/me/password", 400, body={"currentPassword": "not it at all", "newPassword": "x" * 20}, token=token)
    expect("put", "/api/v1/me/password", 204,
           body={"currentPassword": user["password"], "newPassword": "another long password here"}, token=token)
    expect("post", "/api/v1/auth/logout", 204, body={"refreshToken": signed["refreshToken"]})
    expect("post", "/api/v1/auth/refresh", 401, body={"refreshToken": signed["refreshToken"]})

    expected = documented(document, ACCOUNTS, apart=NOTIFICATIONS)
    assert seen == expected, f"not exercised: {sorted(expected - seen)}"


NOTIFICATIONS = ("/api/v1/me/notifications", "/api/v1/me/subscriptions", "/api/v1/me/webhooks")


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver on a free local port: keeps each request's headers and body."""

    def __init__(self):
        self.received = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/hooks"


def verify_standard_webhook(secret, headers, body):
    """Standard Webhooks: HMAC-SHA256 of `id.timestamp.body` under the secret's key."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 300
    assert expected in headers["webhook-signature"].split(" "), "the signature verifies"


def eventually(condition, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_every_notifications_answer_matches_the_document(node, document):
    seen = set()
    expect = expecter(node, document, seen)
    receiver = Receiver()
    user = {"email": "notify@btcr.test", "password": "a long password for notifications"}
    expect_ok = call(node, "POST", "/api/v1/auth/register", user)
    assert expect_ok[0] == 201, expect_ok
    token = call(node, "POST", "/api/v1/auth/login", user)[1]["accessToken"]
    sender = Account.from_key(DEV_KEYS[3]).address.lower()
    assert call(node, "POST", "/api/v1/me/watchlist", {"address": sender}, token)[0] == 200

    expect("get", "/api/v1/me/notifications", 401)
    expect("get", "/api/v1/me/notifications", 200, token=token)
    expect("get", "/api/v1/me/notifications", 400, path="/api/v1/me/notifications?limit=0", token=token)
    made = expect("post", "/api/v1/me/webhooks", 201, body={"url": receiver.url, "description": "schema"}, token=token)
    expect("post", "/api/v1/me/webhooks", 400, body={"url": "ftp://example.com/"}, token=token)
    endpoint = made["endpoint"]["id"]
    one = f"/api/v1/me/webhooks/{endpoint}"
    expect("get", "/api/v1/me/webhooks", 200, token=token)
    expect("get", "/api/v1/me/webhooks/{id}", 200, path=one, token=token)
    expect("get", "/api/v1/me/webhooks/{id}", 404, path="/api/v1/me/webhooks/999999", token=token)
    expect("post", "/api/v1/me/subscriptions", 201,
           body={"kinds": ["transfer.out", "transaction.finalized"], "channel": "portal"}, token=token)
    hooked = expect("post", "/api/v1/me/subscriptions", 201,
                    body={"address": sender, "kinds": ["transfer.out"], "channel": "webhook", "endpointId": endpoint}, token=token)
    expect("post", "/api/v1/me/subscriptions", 400, body={"kinds": ["transfer.sideways"], "channel": "portal"}, token=token)
    expect("get", "/api/v1/me/subscriptions", 200, token=token)

    # A transfer from the watched address: the portal's list and the webhook both get it.
    w3 = Web3(Web3.HTTPProvider(node.url))
    moved = send(w3, DEV_KEYS[3], {"to": Web3.to_checksum_address("0x00000000000000000000000000000000000000d4"), "value": 12345})
    tx = "0x" + moved["transactionHash"].hex().removeprefix("0x")
    assert eventually(lambda: len(call(node, "GET", "/api/v1/me/notifications", token=token)[1]["notifications"]) == 2)
    page = expect("get", "/api/v1/me/notifications", 200, token=token)
    assert {n["kind"] for n in page["notifications"]} == {"transfer.out", "transaction.finalized"}
    assert all(n["payload"]["data"]["transactionHash"] == tx for n in page["notifications"])
    assert page["unread"] == 2
    read = expect("post", "/api/v1/me/notifications/read", 200, body={"upTo": page["notifications"][0]["id"]}, token=token)
    assert read["marked"] == 2
    expect("post", "/api/v1/me/notifications/read", 400, body={"upTo": "all"}, token=token)
    expect("post", "/api/v1/me/webhooks/{id}/test", 202, path=f"{one}/test", token=token)
    assert eventually(lambda: len(receiver.received) == 2), receiver.received
    kinds = []
    for headers, body in receiver.received:
        verify_standard_webhook(made["secret"], {k.lower(): v for k, v in headers.items()}, body)
        kinds.append(json.loads(body)["type"])
    assert kinds == ["transfer.out", "webhook.test"]
    assert json.loads(receiver.received[0][1])["data"]["value"] == "12345"
    messages = expect("get", "/api/v1/me/webhooks/{id}/messages", 200, path=f"{one}/messages?limit=10", token=token)
    assert [m["state"] for m in messages] == ["delivered", "delivered"]
    assert messages[0]["log"][0]["status"] == 200
    first = messages[1]["messageId"]
    expect("post", "/api/v1/me/webhooks/{id}/messages/{messageId}/replay", 202,
           path=f"{one}/messages/{first}/replay", token=token)
    expect("post", "/api/v1/me/webhooks/{id}/messages/{messageId}/replay", 404,
           path=f"{one}/messages/msg_nothing/replay", token=token)
    assert eventually(lambda: len(receiver.received) == 3)
    assert receiver.received[2][0]["webhook-id"] == first, "a replay keeps its id"
    rotated = expect("post", "/api/v1/me/webhooks/{id}/secret", 200, path=f"{one}/secret", token=token)
    assert rotated["secret"] != made["secret"]
    expect("post", "/api/v1/me/webhooks/{id}/enable", 200, path=f"{one}/enable", token=token)
    expect("delete", "/api/v1/me/subscriptions/{id}", 204, path=f"/api/v1/me/subscriptions/{hooked['id']}", token=token)
    expect("delete", "/api/v1/me/subscriptions/{id}", 404, path=f"/api/v1/me/subscriptions/{hooked['id']}", token=token)
    expect("delete", "/api/v1/me/webhooks/{id}", 204, path=one, token=token)
    expect("post", "/api/v1/me/webhooks/{id}/test", 404, path=f"{one}/test", token=token)
    expect("post", "/api/v1/me/webhooks/{id}/secret", 404, path=f"{one}/secret", token=token)
    expect("post", "/api/v1/me/webhooks/{id}/enable", 404, path=f"{one}/enable", token=token)
    expect("delete", "/api/v1/me/webhooks/{id}", 404, path=one, token=token)
    expect("get", "/api/v1/me/webhooks/{id}/messages", 404, path=f"{one}/messages", token=token)
    receiver.shutdown()

    expected = documented(document, NOTIFICATIONS)
    assert seen == expected, f"not exercised: {sorted(expected - seen)}"


def test_every_answer_matches_the_document(node, document):
    w3 = Web3(Web3.HTTPProvider(node.url))
    owner = Account.from_key(DEV_KEYS[2]).address
    holder = Web3.to_checksum_address("0x00000000000000000000000000000000000000c1")
    token = w3.eth.contract(abi=TOKEN["abi"], bytecode=TOKEN["bytecode"])
    deployed = send(w3, DEV_KEYS[2], {"data": token.constructor("Schema", "SCH", 10**24).build_transaction({"from": owner, "gas": 2_000_000})["data"], "gas": 2_000_000})
    address = deployed["contractAddress"]
    call = w3.eth.contract(address=address, abi=TOKEN["abi"]).functions.transfer(holder, 5).build_transaction({"from": owner, "gas": 200_000})
    moved = send(w3, DEV_KEYS[2], {"to": address, "data": call["data"], "gas": 200_000})
    tx = "0x" + moved["transactionHash"].hex().removeprefix("0x")
    number = moved["blockNumber"]

    answers = {
        "/api/v1/summary": "/api/v1/summary",
        "/api/v1/blocks": "/api/v1/blocks?limit=3",
        "/api/v1/blocks/{id}": f"/api/v1/blocks/{number}",
        "/api/v1/blocks/{id}/transactions": f"/api/v1/blocks/{number}/transactions",
        "/api/v1/transactions/{hash}": f"/api/v1/transactions/{tx}",
        "/api/v1/addresses/{address}": f"/api/v1/addresses/{holder}",
        "/api/v1/addresses/{address}/transactions": f"/api/v1/addresses/{holder}/transactions",
        "/api/v1/validators": "/api/v1/validators",
        "/api/v1/search": f"/api/v1/search?q={tx}",
        "/api/v1/tokens/{address}": f"/api/v1/tokens/{address}",
    }
    explorer = [p for p in document["paths"] if not p.startswith(ACCOUNTS + NOTIFICATIONS)]
    assert sorted(answers) == sorted(explorer), "every route is exercised"
    for template, path in answers.items():
        status, body = get(node, path)
        assert status == 200, f"{path}: {body}"
        check(document, template, 200, body)
    # The answers that matter here are not empty.
    assert get(node, f"/api/v1/addresses/{holder}")[1]["tokens"][0]["balance"] == "5"
    assert get(node, f"/api/v1/transactions/{tx}")[1]["tokenTransfers"][0]["value"] == "5"

    # Errors have the documented shape.
    status, body = get(node, "/api/v1/blocks?limit=501")
    assert status == 400
    check(document, "/api/v1/blocks", 400, body)
    status, body = get(node, "/api/v1/blocks/99999999")
    assert status == 404
    check(document, "/api/v1/blocks/{id}", 404, body)
