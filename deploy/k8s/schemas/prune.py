#!/usr/bin/env python3
"""Writes the Kubernetes API schemas that deploy/k8s/check.py validates against.

From a directory of the API's strict JSON schemas, one file per kind with its $refs into
`_definitions.json` (the layout of the `kubernetes-validate` package's
`kubernetes-json-schema/vX.Y.Z-local-strict`), keeps the kinds the manifests use and,
of the definitions, only those they reach; writes them into one file here.

    python3 prune.py SOURCE_DIR > v1.33-strict.json
"""
import json
import sys

KINDS = [
    "configmap-v1",
    "deployment-apps-v1",
    "horizontalpodautoscaler-autoscaling-v2",
    "namespace-v1",
    "networkpolicy-networking-v1",
    "poddisruptionbudget-policy-v1",
    "secret-v1",
    "service-v1",
    "serviceaccount-v1",
    "statefulset-apps-v1",
]
# A kind's file names definitions by the first form, the definitions each other by the
# second; the bundle uses the second throughout.
PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def refs(node, out):
    if isinstance(node, dict):
        ref = node.get("$ref")
        for prefix in PREFIXES:
            if isinstance(ref, str) and ref.startswith(prefix):
                out.add(ref[len(prefix):])
                node["$ref"] = "#/$defs/" + ref[len(prefix):]
        for value in node.values():
            refs(value, out)
    elif isinstance(node, list):
        for value in node:
            refs(value, out)


def main():
    source = sys.argv[1]
    definitions = json.load(open(f"{source}/_definitions.json"))["$defs"]
    kinds = {kind: json.load(open(f"{source}/{kind}.json")) for kind in KINDS}
    wanted, todo = set(), set()
    for schema in kinds.values():
        refs(schema, todo)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        refs(definitions[name], todo)
    bundle = {
        "kinds": kinds,
        "definitions": {name: definitions[name] for name in sorted(wanted)},
    }
    json.dump(bundle, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
