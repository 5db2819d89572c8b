"""Write or check the committed JSON Schema of the three event unions (`events.schema.json`).

    python -m mallbridge_schema.jsonschema           # (re)write the file from the models
    python -m mallbridge_schema.jsonschema --check   # exit 1 when the file differs from the models

The file is what non-Python consumers read; a unit test keeps it equal to what the models produce.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mallbridge_schema.serde import events_json_schema

SCHEMA_PATH = Path(__file__).with_name("events.schema.json")


def render() -> str:
    """The schema file's exact text: stable key order, UTF-8, one trailing newline."""
    return json.dumps(events_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mallbridge_schema.jsonschema", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file is out of date")
    parser.add_argument("--path", type=Path, default=SCHEMA_PATH, help="schema file (default: the packaged one)")
    args = parser.parse_args(argv)
    expected = render()
    path: Path = args.path
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != expected:
            print(f"{path} is out of date: run `python -m mallbridge_schema.jsonschema`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(expected, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
