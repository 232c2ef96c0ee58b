#!/usr/bin/python3
"""Checks Kubernetes manifests against the API's own models, strictly: every field must be
one the API defines for its object (an unknown or misspelt field is an error, as with
`kubectl apply --validate=strict` or kubeconform -strict) and every value of the type the
API says. The models are those of Debian's python3-kubernetes (generated from the
Kubernetes OpenAPI description, API 1.22); tests/api/deploy.test.js runs this next to
kubernetes-models, which checks required fields and formats of a newer API but lets
unknown fields pass.

    k8s_strict.py FILE.yaml...      prints one line per error; exit 1 when there is one
"""
import re
import sys

import yaml
from kubernetes.client import models

SCALARS = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "datetime": lambda v: isinstance(v, str),
    "date": lambda v: isinstance(v, str),
    "object": lambda v: True,  # IntOrString, Quantity's raw form, free-form fields
}
# Quantities (resources, limits) are dict(str, str) in the models; the API also takes
# plain numbers there ("cpu: 1").
QUANTITY_MAPS = {"requests", "limits", "capacity", "allocatable", "hard", "used"}


def check(value, typ, path, errors):
    if typ in SCALARS:
        if not SCALARS[typ](value):
            parent = path.split(".")[-2:-1]
            if typ == "str" and parent and parent[0] in QUANTITY_MAPS and \
                    SCALARS["float"](value):
                return
            errors.append(f"{path}: {value!r} is not of type {typ}")
        return
    m = re.fullmatch(r"list\[(.+)\]", typ)
    if m:
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list")
            return
        for i, item in enumerate(value):
            check(item, m.group(1), f"{path}[{i}]", errors)
        return
    m = re.fullmatch(r"dict\(str, (.+)\)", typ)
    if m:
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map")
            return
        for k, item in value.items():
            check(item, m.group(1), f"{path}.{k}", errors)
        return
    model = getattr(models, typ)
    if not isinstance(value, dict):
        errors.append(f"{path}: expected an object ({typ})")
        return
    fields = {json: attr for attr, json in model.attribute_map.items()}
    for key, item in value.items():
        if key not in fields:
            errors.append(f"{path}: unknown field \"{key}\" in {typ}")
            continue
        check(item, model.openapi_types[fields[key]], f"{path}.{key}", errors)


def model_for(doc):
    version = str(doc.get("apiVersion", "")).rsplit("/", 1)[-1]
    name = version[:1].upper() + version[1:] + str(doc.get("kind", ""))
    return name if hasattr(models, name) else None


def main(files):
    errors = []
    for file in files:
        with open(file, encoding="utf-8") as f:
            for n, doc in enumerate(yaml.safe_load_all(f)):
                if doc is None:
                    continue
                where = f"{file}#{n} {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
                typ = model_for(doc)
                if not typ:
                    errors.append(f"{where}: no model for {doc.get('apiVersion')} {doc.get('kind')}")
                    continue
                check(doc, typ, where, errors)
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
