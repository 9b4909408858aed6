"""The REST API's OpenAPI 3.1 document against the specification (openapi-spec-validator),
and every endpoint's real answers against the document's schemas, with undeclared fields
refused: the document describes what the node serves."""

import copy
import json
import urllib.error
import urllib.request

import pytest
from eth_account import Account
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from web3 import Web3

from conftest import DEV_KEYS
from test_web3py import TOKEN, send


def get(node, path):
    try:
        with urllib.request.urlopen(node.url.rstrip("/") + path, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


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


def check(document, template, status, body):
    """`body` against the schema the document gives `template`'s `status` answer."""
    response = document["paths"][template]["get"]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    root = {**schema, "components": closed(document["components"])}
    errors = sorted(Draft202012Validator(root).iter_errors(body), key=str)
    assert not errors, f"{template} {status}: {errors[0].message} at {list(errors[0].absolute_path)}"


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)


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
    assert sorted(answers) == sorted(document["paths"]), "every route is exercised"
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
