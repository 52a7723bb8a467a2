"""The ``files`` and ``sql`` jobs' BigQuery SQL: the ``files`` table at HEAD, filtered in SQL,
joined to ``contents``.

BigQuery's ``contents`` holds the blobs at each repository's HEAD, which is exactly what these
jobs read, so ``bq:`` works for them without fetching. ``files_query`` returns the ``files`` rows
the pipeline would not drop anyway: no symlink or submodule (``io.repo_files.file_kind_drop``),
the path ending in one of ``suffixes`` when the job keeps only those (``sql``: ``.sql``), and, for
the ``files`` job, the enabled ``licence``, ``binary`` and ``size`` filters of
``config["files"]["filters"]`` (the last two through an anti-join on ``contents``: a file is left
out when its blob is there and would be dropped; one whose blob is missing is still returned and
dead-lettered downstream, as without the push-down). ``contents_query``
returns the blobs of the selected files, each once. The pipeline still applies every filter
after reading: the push-down only saves transfer. ``tests/files/test_files_pushdown.py`` runs the
SQL (transpiled to DuckDB) over the sample dump and proves it selects exactly the files those
filters keep.
"""

from __future__ import annotations

from typing import Callable, Optional

from codecorpus.core.filters import build_chain
from codecorpus.files.filters import BinaryFilter, LicenceFilter, SizeFilter
from codecorpus.io.bigquery import licenses_query, sql_in_list, sql_int, sql_string, table_name

PUSHDOWN_FILTERS = {f.name: f for f in (LicenceFilter, BinaryFilter, SizeFilter)}
# io.repo_files.SYMLINK_MODES | SUBMODULE_MODES: 0o120000 and 0o160000
LINK_MODES = (40960, 57344)


def pushdown_filters(config: dict) -> dict:
    """The enabled push-down filters of ``files.filters``, built as the pipeline builds them."""
    section = config["files"]["filters"]
    chain = build_chain(PUSHDOWN_FILTERS, {n: section[n] for n in section if n in PUSHDOWN_FILTERS})
    return {f.name: f for f in chain.filters}


def _selected_files(dataset: str, config: dict, suffixes: Optional[tuple], with_filters: bool) -> str:
    modes = ", ".join(str(m) for m in LINK_MODES)
    conditions = [f"COALESCE(f.mode, 0) NOT IN ({modes})",
                  "COALESCE(f.symlink_target, '') = ''"]
    if suffixes:
        conditions.append("(" + " OR ".join(f"ENDS_WITH(LOWER(f.path), {sql_string(s.lower())})"
                                            for s in sorted(suffixes)) + ")")
    filters = pushdown_filters(config) if with_filters else {}
    if "licence" in filters:
        # attach_licence: the repository's smallest non-null licence; none is unknown_licence.
        conditions.append(f"""f.repo_name IN (
    SELECT repo_name FROM {table_name(dataset, 'licenses')}
    GROUP BY repo_name
    HAVING LOWER(MIN(license)) IN {sql_in_list(filters['licence'].allow)}
  )""")
    dropped_blob = []  # a blob the binary or size filter would drop
    if "binary" in filters:  # NUL characters in the text are left to the pipeline's binary filter
        dropped_blob.append("COALESCE(ct.binary, FALSE)")
    if "size" in filters:  # measured from the text, as blob_size does
        size = filters["size"]
        dropped_blob += ["ct.content IS NULL",
                         f"BYTE_LENGTH(ct.content) > {sql_int(size.max_bytes, 'size.max_bytes')}",
                         f"BYTE_LENGTH(ct.content) < {sql_int(size.min_bytes, 'size.min_bytes')}"]
    if dropped_blob:
        # Only files whose blob is there and would be dropped are left out: a file whose blob is
        # missing (or that has no id) is returned, to be dead-lettered as without the push-down.
        conditions.append(f"""(f.id IS NULL OR f.id NOT IN (
    SELECT ct.id FROM {table_name(dataset, 'contents')} AS ct
    WHERE ct.id IS NOT NULL AND ({' OR '.join(dropped_blob)})
  ))""")
    where = "\n  AND ".join(conditions)
    return f"  SELECT f.*\n  FROM {table_name(dataset, 'files')} AS f\n  WHERE {where}"


def files_query(dataset: str, config: dict, suffixes: Optional[tuple] = None, with_filters: bool = True) -> str:
    """BigQuery Standard SQL: the ``files`` rows the push-down keeps (all columns)."""
    return (f"-- codecorpus: files at HEAD, links{', paths' if suffixes else ''}"
            f"{' and the licence, binary and size filters' if with_filters else ''} pushed down\n"
            f"WITH selected_files AS (\n{_selected_files(dataset, config, suffixes, with_filters)}\n)\n"
            "SELECT * FROM selected_files\n")


def contents_query(dataset: str, config: dict, suffixes: Optional[tuple] = None, with_filters: bool = True) -> str:
    """BigQuery Standard SQL: the ``contents`` rows of the files ``files_query`` selects, each once."""
    return (f"-- codecorpus: the blobs of the selected files (a semi-join)\n"
            f"WITH selected_files AS (\n{_selected_files(dataset, config, suffixes, with_filters)}\n)\n"
            f"SELECT ct.*\nFROM {table_name(dataset, 'contents')} AS ct\n"
            "WHERE ct.id IN (SELECT id FROM selected_files)\n")


def queries(suffixes: Optional[tuple] = None, with_filters: bool = True) -> dict[str, Callable[[str, dict], str]]:
    """table -> fn(dataset, config) -> SQL, for ``ReadTable``'s ``queries``. The ``files`` job:
    ``queries()``; the ``sql`` job: ``queries((".sql",), with_filters=False)`` (it has no file filters)."""
    return {"files": lambda dataset, config: files_query(dataset, config, suffixes, with_filters),
            "contents": lambda dataset, config: contents_query(dataset, config, suffixes, with_filters),
            "licenses": licenses_query}
