"""Writing generated files, or checking that they are up to date: the
shared end of scripts/dashboards.py and scripts/output_schemas.py."""
from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(directory: Path, rendered: dict[str, str], generator: str, argv: list[str]) -> int:
    """Write each of `rendered` (file name -> text) into `directory`, or with
    --check in `argv`, exit status 1 naming those that differ."""
    stale = []
    for name, text in rendered.items():
        path = directory / name
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            directory.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        where = directory.name
        print(f"{where}/{f', {where}/'.join(stale)} differ from {generator}: run python {generator}", file=sys.stderr)
        return 1
    return 0
