"""Every example of openapi/openapi.json — request bodies, answers (successes and problems) —
validates against its schema (JSON Schema 2020-12, as OpenAPI 3.1 defines it). Run by
.ci/clients.sh; needs the `jsonschema` package (a dependency of openapi-spec-validator)."""

import json
import sys

from jsonschema import Draft202012Validator

spec = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "openapi/openapi.json"))
failures, checked = [], 0


def check(where, schema, value):
    global checked
    # The components travel with the schema so that `#/components/schemas/…` resolves.
    root = dict(schema, components=spec.get("components", {}))
    errors = sorted(Draft202012Validator(root).iter_errors(value), key=lambda e: list(e.path))
    checked += 1
    for e in errors[:3]:
        failures.append(f"{where}: {'/'.join(map(str, e.path))}: {e.message[:200]}")


for path, item in spec["paths"].items():
    for method, op in item.items():
        contents = [("request", m, c) for m, c in op.get("requestBody", {}).get("content", {}).items()]
        for status, response in op.get("responses", {}).items():
            contents += [(status, m, c) for m, c in response.get("content", {}).items()]
        for where, media, content in contents:
            schema = content.get("schema")
            if schema is None or "json" not in media:
                continue
            label = f"{method.upper()} {path} {where} {media}"
            if "example" in content:
                check(label, schema, content["example"])
            for name, example in content.get("examples", {}).items():
                ref = example.get("$ref", "")
                if ref.startswith("#/components/examples/"):
                    example = spec["components"]["examples"][ref.rsplit("/", 1)[1]]
                if "value" in example:
                    check(f"{label} example {name}", schema, example["value"])

if failures:
    print("examples that do not validate against their schema:", *failures, sep="\n  ")
    sys.exit(1)
print(f"{checked} examples validate against their schemas")
