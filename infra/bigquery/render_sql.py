"""Write the BigQuery SQL that ``codecorpus commits --input bq:DATASET`` pushes down, as files.

    python infra/bigquery/render_sql.py                      # infra/bigquery/commits/*.sql (public dataset)
    python infra/bigquery/render_sql.py --dataset my-proj.github_repos --config my.yaml --out /tmp/sql

The queries come from ``codecorpus.io.bigquery`` (the same functions the job calls), so the files
never drift from the code: ``tests/test_packaging.py`` renders them again and compares.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    from codecorpus.config import load_config
    from codecorpus.commits.pushdown import PUBLIC_DATASET, write_pushdown_sql

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default=PUBLIC_DATASET, help="PROJECT.DATASET (default: %(default)s)")
    parser.add_argument("--config", help="job config YAML merged over the defaults (as --config of the job)")
    parser.add_argument("--disable-filter", action="append", default=[], metavar="NAME")
    parser.add_argument("--out", default=str(HERE), help="folder to write into (default: %(default)s)")
    args = parser.parse_args(argv)
    config = load_config(args.config, args.disable_filter) if (args.config or args.disable_filter) else None
    for path in write_pushdown_sql(args.out, args.dataset, config):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
