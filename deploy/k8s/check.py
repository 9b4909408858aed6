#!/usr/bin/env python3
"""Checks the Kubernetes manifests offline: renders the kustomization (the subset of
kustomize it uses: namespace, labels, images, resources; anything else is refused rather
than ignored), validates every object against the vendored strict schemas of the
Kubernetes 1.33 API (schemas/v1.33-strict.json: an unknown or misspelt field fails), then
checks what the schemas cannot: the validators' update strategy, volumes and disruption
budget, an autoscaler for each Deployment, selectors that select something, and the
security settings of every container.

    python3 deploy/k8s/check.py [DIR]      (DIR: the kustomization's directory)

Needs PyYAML and jsonschema (Debian's python3-yaml and python3-jsonschema).
"""
import copy
import json
import os
import sys

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
KNOWN_KUSTOMIZATION_KEYS = {"apiVersion", "kind", "namespace", "labels", "images", "resources"}
CLUSTER_SCOPED = {"Namespace"}
WORKLOADS = {"Deployment", "StatefulSet"}

failures = []


def fail(message):
    failures.append(message)


def schema_name(api_version, kind):
    group, _, version = api_version.rpartition("/")
    group = group.split(".")[0]
    return f"{kind.lower()}-{group}-{version}" if group else f"{kind.lower()}-{version}"


def render(directory):
    kustomization = yaml.safe_load(open(os.path.join(directory, "kustomization.yaml")))
    unknown = set(kustomization) - KNOWN_KUSTOMIZATION_KEYS
    if unknown:
        fail(f"kustomization.yaml: fields this check does not render: {sorted(unknown)}")
    listed = set(kustomization.get("resources", []))
    on_disk = {
        name
        for name in os.listdir(directory)
        if name.endswith(".yaml") and name != "kustomization.yaml"
    }
    for missing in sorted(on_disk - listed):
        fail(f"{missing} is not in kustomization.yaml's resources")
    images = {image["name"]: image for image in kustomization.get("images", [])}
    objects = []
    for resource in kustomization.get("resources", []):
        for document in yaml.safe_load_all(open(os.path.join(directory, resource))):
            if document is None:
                continue
            document["_file"] = resource
            if document.get("kind") not in CLUSTER_SCOPED and "namespace" in kustomization:
                document.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
            for label_set in kustomization.get("labels", []):
                labels = document.setdefault("metadata", {}).setdefault("labels", {})
                labels.update(label_set.get("pairs", {}))
            for pod in pod_specs(document):
                for container in pod.get("initContainers", []) + pod.get("containers", []):
                    image = images.get(container.get("image"))
                    if image:
                        container["image"] = f"{image['newName']}:{image['newTag']}"
            objects.append(document)
    return objects


def pod_specs(document):
    template = document.get("spec", {}).get("template")
    return [template["spec"]] if template and "spec" in template else []


def validate(objects):
    bundle = json.load(open(os.path.join(HERE, "schemas", "v1.33-strict.json")))
    for document in objects:
        name = f"{document['_file']}: {document.get('kind')} {document.get('metadata', {}).get('name')}"
        body = {k: v for k, v in document.items() if k != "_file"}
        schema = bundle["kinds"].get(schema_name(body.get("apiVersion", ""), body.get("kind", "")))
        if schema is None:
            fail(f"{name}: no schema for {body.get('apiVersion')} {body.get('kind')}")
            continue
        schema = dict(schema, **{"$defs": bundle["definitions"]})
        validator = jsonschema.Draft202012Validator(schema)
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.path)):
            path = "/".join(str(p) for p in error.absolute_path)
            fail(f"{name}: {path}: {error.message[:300]}")


def selects(selector, labels):
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression.get("values", []):
            return False
        if operator == "NotIn" and value in expression.get("values", []):
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def semantics(objects):
    by_kind = {}
    for document in objects:
        by_kind.setdefault(document["kind"], []).append(document)
    pods = [
        (w, w["spec"]["template"]["metadata"].get("labels", {}))
        for w in by_kind.get("Deployment", []) + by_kind.get("StatefulSet", [])
    ]
    validators = [s for s in by_kind.get("StatefulSet", []) if s["metadata"]["name"] == "btcr-validator"]
    if len(validators) != 1:
        fail("no btcr-validator StatefulSet")
    for stateful in validators:
        spec = stateful["spec"]
        if spec.get("updateStrategy", {}).get("type") != "OnDelete":
            fail("the validators' StatefulSet must update OnDelete")
        claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
        if not {"data", "wal"} <= claims:
            fail(f"the validators need volumes for data and the WAL, have {sorted(claims)}")
        labels = spec["template"]["metadata"]["labels"]
        budgets = [
            b for b in by_kind.get("PodDisruptionBudget", []) if selects(b["spec"]["selector"], labels)
        ]
        if not budgets:
            fail("no PodDisruptionBudget covers the validators")
        secrets = [
            v["secret"]["secretName"] for v in spec["template"]["spec"]["volumes"] if "secret" in v
        ]
        if "btcr-validator-homes" not in secrets:
            fail("the validators' keys do not come from the btcr-validator-homes Secret")
    for workload in by_kind.get("Deployment", []):
        name = workload["metadata"]["name"]
        scalers = [
            h
            for h in by_kind.get("HorizontalPodAutoscaler", [])
            if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        ]
        if not scalers:
            fail(f"Deployment {name} has no HorizontalPodAutoscaler")
    for workload, labels in pods:
        name = f"{workload['kind']} {workload['metadata']['name']}"
        if not selects(workload["spec"]["selector"], labels):
            fail(f"{name}: its selector does not select its own pods")
        pod = workload["spec"]["template"]["spec"]
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            fail(f"{name}: pods must run as non-root")
        for container in pod.get("initContainers", []) + pod["containers"]:
            context = container.get("securityContext", {})
            where = f"{name}/{container['name']}"
            if context.get("allowPrivilegeEscalation") is not False:
                fail(f"{where}: allowPrivilegeEscalation must be false")
            if not context.get("readOnlyRootFilesystem"):
                fail(f"{where}: the root file system must be read-only")
            if "ALL" not in context.get("capabilities", {}).get("drop", []):
                fail(f"{where}: must drop all capabilities")
            if not container.get("resources", {}).get("limits"):
                fail(f"{where}: no resource limits")
            if ":" not in container["image"]:
                fail(f"{where}: image {container['image']} has no tag")
        for container in pod["containers"]:
            if "readinessProbe" not in container or "livenessProbe" not in container:
                fail(f"{name}/{container['name']}: needs readiness and liveness probes")
    for service in by_kind.get("Service", []):
        if not any(selects({"matchLabels": service["spec"]["selector"]}, labels) for _, labels in pods):
            fail(f"Service {service['metadata']['name']} selects no pods")
    for policy in by_kind.get("NetworkPolicy", []):
        selector = policy["spec"]["podSelector"]
        if selector and not any(selects(selector, labels) for _, labels in pods):
            fail(f"NetworkPolicy {policy['metadata']['name']} selects no pods")
    if not any(p["spec"]["podSelector"] == {} and p["spec"].get("ingress") is None for p in by_kind.get("NetworkPolicy", [])):
        fail("no default-deny NetworkPolicy")


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else HERE
    objects = render(directory)
    validate(copy.deepcopy(objects))
    semantics(objects)
    for failure in failures:
        print(f"FAIL {failure}")
    if failures:
        sys.exit(1)
    kinds = sorted({o["kind"] for o in objects})
    print(f"OK {len(objects)} objects ({', '.join(kinds)}) valid against the Kubernetes 1.33 schemas")


if __name__ == "__main__":
    main()
