"""How many bytes each push-down query would scan: BigQuery's dry run (free; reads no rows).

    pip install google-cloud-bigquery          # already a dependency of codecorpus
    gcloud auth application-default login
    python infra/bigquery/dry_run.py --project MY_BILLING_PROJECT
    python infra/bigquery/dry_run.py --project P --dataset my-proj.github_repos --config my.yaml

Without ``--dataset``/``--config`` it dry-runs the checked-in ``infra/bigquery/commits/*.sql``
(public dataset, default filters); with them it renders the queries the job would send. It prints
bytes processed per query, their sum, and the on-demand cost at ``--price-per-tib`` (an
assumption: check your region's and edition's price). Billing is per query: the commits job runs
each of these once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIB = 1 << 40
# On-demand analysis price in USD per TiB scanned (BigQuery's published US multi-region price
# since July 2023). An assumption to check: regions, editions and discounts differ.
DEFAULT_PRICE_PER_TIB = 6.25


def checked_in_queries(folder: Path = HERE) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text(encoding="utf-8") for p in sorted(folder.glob("*/*.sql"))}


def dry_run(queries: dict[str, str], client, price_per_tib: float = DEFAULT_PRICE_PER_TIB) -> list[dict]:
    """One row per query: ``name``, ``bytes`` (``total_bytes_processed`` of a dry run, which
    BigQuery computes without reading data or charging), ``tib`` and ``usd``. ``client`` is a
    ``google.cloud.bigquery.Client`` (or anything with the same ``query`` method)."""
    from google.cloud import bigquery

    rows = []
    for name, sql in queries.items():
        # use_query_cache=False: a cached result would report 0 bytes.
        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
        job = client.query(sql, job_config=config)
        scanned = int(job.total_bytes_processed or 0)
        rows.append({"name": name, "bytes": scanned, "tib": scanned / TIB, "usd": scanned / TIB * price_per_tib})
    return rows


def format_rows(rows: list[dict], price_per_tib: float) -> str:
    lines = [f"{'query':<28} {'bytes processed':>20} {'TiB':>9} {'USD':>9}"]
    for r in rows + [{"name": "total", **{k: sum(x[k] for x in rows) for k in ("bytes", "tib", "usd")}}]:
        lines.append(f"{r['name']:<28} {r['bytes']:>20,} {r['tib']:>9.3f} {r['usd']:>9.2f}")
    lines.append(f"(on-demand price assumed: ${price_per_tib}/TiB; a dry run costs nothing)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", required=True, help="billing project the dry runs are issued from")
    parser.add_argument("--dataset", help="PROJECT.DATASET to render the queries for (default: the checked-in files)")
    parser.add_argument("--config", help="job config YAML (as the job's --config) to render the queries with")
    parser.add_argument("--location", help="BigQuery location of the dataset (default: the client's)")
    parser.add_argument("--price-per-tib", type=float, default=DEFAULT_PRICE_PER_TIB)
    args = parser.parse_args(argv)

    if args.dataset or args.config:
        from codecorpus.config import load_config
        from codecorpus.commits.pushdown import PUBLIC_DATASET, pushdown_sql_files

        queries = pushdown_sql_files(args.dataset or PUBLIC_DATASET, load_config(args.config))
    else:
        queries = checked_in_queries()
    from google.cloud import bigquery

    client = bigquery.Client(project=args.project, location=args.location)
    print(format_rows(dry_run(queries, client, args.price_per_tib), args.price_per_tib))
    return 0


if __name__ == "__main__":
    sys.exit(main())
