#!/usr/bin/env python3
"""JSON Schema 2020-12 verdicts by python3-jsonschema (Debian), for the workflow validator's unit
test to compare with. Reads JSON lines {"schema": ..., "instance": ...} on stdin; writes "valid"
or "invalid" per line."""
import json
import sys

from jsonschema import Draft202012Validator

for line in sys.stdin:
    case = json.loads(line)
    ok = Draft202012Validator(case["schema"]).is_valid(case["instance"])
    print("valid" if ok else "invalid")
