"""Child process for one measured run: ``python -m bench.worker '<json spec>'``.

Each run is its own process so its peak RSS (``ru_maxrss`` from ``os.wait4``) is its own.
Prints one JSON line with the result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.sides import json_dump, run_dlt, run_trainbridge


def main() -> None:
    spec = json.loads(sys.argv[1])
    url, store, workdir = spec["url"], spec["store"], Path(spec["workdir"])
    only_xapi = spec.get("only_xapi", False)
    if spec["tool"] == "trainbridge":
        result = run_trainbridge(url, store, workdir, only_xapi=only_xapi, jobs=spec.get("jobs", ["ingest"]))
    else:
        result = run_dlt(url, store, workdir, only_xapi=only_xapi, tool=spec["tool"])
    print("RESULT " + json_dump(result), flush=True)


if __name__ == "__main__":
    main()
