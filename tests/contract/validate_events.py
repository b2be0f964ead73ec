"""Validates events against docs/events/event.schema.json with the `jsonschema` package.

    validate_events.py SCHEMA EVENTS

EVENTS is a JSON array of event values. Prints a JSON array with one verdict per event,
in order: {"valid": true} or {"valid": false, "error": "<the first error's message>"}.
Formats are annotations (JSON Schema 2020-12's default); patterns and every other keyword
are asserted. Used by tests/integration/event_contract_test.cc.
"""
import json
import sys

import jsonschema


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    with open(sys.argv[2], encoding="utf-8") as f:
        events = json.load(f)
    verdicts = []
    for event in events:
        error = jsonschema.exceptions.best_match(validator.iter_errors(event))
        verdicts.append({"valid": True} if error is None else {"valid": False, "error": error.message})
    json.dump(verdicts, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
