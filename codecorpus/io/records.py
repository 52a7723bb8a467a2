"""Normalising raw input records (a parsed JSON line, a Parquet row, a BigQuery row, a git
object) into the one shape the transforms rely on, or rejecting them with a clear reason.

Real dumps are dirty: fields are missing, null, or of the wrong type. ``normalise`` fixes what
is unambiguous (a null list is an empty list, a scalar ``repo_name`` is a one-element list) and
raises ``RecordError`` for anything else, which the readers turn into a dead letter.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional


def file_key(repo, ref, path) -> str:
    """One file at one ref, everywhere a file is named (joins, dead letters, FIM chunks):
    ``repo:ref:path``. git forbids ':' in ref names and GitHub in repository names, so the key
    splits back at its first two colons even when the path has some."""
    return f"{repo}:{ref or ''}:{path}"


class RecordError(ValueError):
    """A record that cannot be used; the message says which field and why."""


def invalid_record(e: Exception) -> str:
    """A dead letter's error for a record whose normalising raised: any exception counts (one
    bad value dead-letters its record only), named when it is not a ``RecordError``."""
    return f"invalid record: {e}" if isinstance(e, RecordError) else f"invalid record: {type(e).__name__}: {e}"


def _opt_str(value: Any, field: str) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    raise RecordError(f"field '{field}' must be a string or null, got {type(value).__name__}")


def _req_str(value: Any, field: str) -> str:
    if isinstance(value, str) and value:
        return value
    if value is None or value == "":
        raise RecordError(f"field '{field}' is missing or empty")
    raise RecordError(f"field '{field}' must be a string, got {type(value).__name__}")


# Integer fields are INT64 in BigQuery and in our Parquet tables: anything outside cannot be written.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INTEGER_TEXT = re.compile(r"-?[0-9]+")  # ASCII digits only: "²".isdigit() is True, int("²") fails


def _opt_int(value: Any, field: str) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool):
        raise RecordError(f"field '{field}' must be an integer, got bool")
    number = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        text = value.strip()  # BigQuery exports INT64 as JSON strings
        if len(text.lstrip("-")) > 19:  # before int(): 5,000 digits would raise (or take a while)
            raise RecordError(f"field '{field}' is outside the 64-bit integer range: {value!r:.40}")
        number = int(text)
    if number is None:
        raise RecordError(f"field '{field}' must be an integer, got {value!r:.40}")
    if not INT64_MIN <= number <= INT64_MAX:
        raise RecordError(f"field '{field}' is outside the 64-bit integer range: {str(number)[:40]}")
    return number


def _opt_bool(value: Any, field: str) -> Optional[bool]:
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise RecordError(f"field '{field}' must be a boolean, got {value!r:.40}")


def _list(value: Any, field: str) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    raise RecordError(f"field '{field}' must be a list, got {type(value).__name__}")


def _struct(value: Any, field: str) -> Optional[dict]:
    if value is None or isinstance(value, dict):
        return value
    raise RecordError(f"field '{field}' must be an object, got {type(value).__name__}")


def _signature(value: Any, field: str) -> Optional[dict]:
    sig = _struct(value, field)
    if sig is None:
        return None
    return {
        "name": _opt_str(sig.get("name"), f"{field}.name"),
        "email": _opt_str(sig.get("email"), f"{field}.email"),
        "time_sec": _opt_int(sig.get("time_sec"), f"{field}.time_sec"),
        "tz_offset": _opt_int(sig.get("tz_offset"), f"{field}.tz_offset"),
        "date": _opt_str(sig.get("date"), f"{field}.date"),
    }


def _difference(value: Any, i: int) -> dict:
    d = _struct(value, f"difference[{i}]")
    if d is None:
        raise RecordError(f"difference[{i}] is null")
    out = {}
    for key in ("old_mode", "new_mode"):
        out[key] = _opt_int(d.get(key), f"difference[{i}].{key}")
    for key in ("old_path", "new_path", "old_sha1", "new_sha1", "old_repo", "new_repo"):
        out[key] = _opt_str(d.get(key), f"difference[{i}].{key}")
    return out


def normalise_commit(raw: dict) -> dict:
    message = _opt_str(raw.get("message"), "message")
    subject = _opt_str(raw.get("subject"), "subject")
    if subject is None and message is not None:
        subject = message.split("\n", 1)[0]
    repo_name = raw.get("repo_name")
    if isinstance(repo_name, str):
        repo_name = [repo_name]
    repos = [_req_str(r, "repo_name[]") for r in _list(repo_name, "repo_name")]
    trailers = []
    for i, t in enumerate(_list(raw.get("trailer"), "trailer")):
        t = _struct(t, f"trailer[{i}]") or {}
        trailers.append({k: _opt_str(t.get(k), f"trailer[{i}].{k}") for k in ("key", "value", "email")})
    return {
        "commit": _req_str(raw.get("commit"), "commit"),
        "tree": _opt_str(raw.get("tree"), "tree"),
        "parent": [_req_str(p, "parent[]") for p in _list(raw.get("parent"), "parent")],
        "author": _signature(raw.get("author"), "author"),
        "committer": _signature(raw.get("committer"), "committer"),
        "subject": subject,
        "message": message,
        "trailer": trailers,
        "difference": [_difference(d, i) for i, d in enumerate(_list(raw.get("difference"), "difference"))],
        "difference_truncated": _opt_bool(raw.get("difference_truncated"), "difference_truncated"),
        "repo_name": repos,
        "encoding": _opt_str(raw.get("encoding"), "encoding"),
    }


def is_encodable(text: Optional[str]) -> bool:
    """False for strings holding lone surrogates (from invalid UTF-8 or ``\\udXXX`` escapes),
    which cannot be written as UTF-8."""
    if text is None:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def normalise_content(raw: dict) -> dict:
    content = _opt_str(raw.get("content"), "content")
    # Undecodable text cannot cross a Beam shuffle (coders encode UTF-8): keep the blob id, drop
    # the text and say so, so the commits that use the blob are dead-lettered with the reason.
    undecodable = not is_encodable(content)
    return {
        "id": _req_str(raw.get("id"), "id"),
        "size": _opt_int(raw.get("size"), "size"),
        "content": None if undecodable else content,
        "binary": _opt_bool(raw.get("binary"), "binary"),
        "copies": _opt_int(raw.get("copies"), "copies"),
        "undecodable": undecodable,
    }


def normalise_license(raw: dict) -> dict:
    return {
        "repo_name": _req_str(raw.get("repo_name"), "repo_name"),
        "license": _opt_str(raw.get("license"), "license"),
    }


def normalise_file(raw: dict) -> dict:
    return {
        "repo_name": _req_str(raw.get("repo_name"), "repo_name"),
        "ref": _opt_str(raw.get("ref"), "ref"),
        "path": _req_str(raw.get("path"), "path"),
        "mode": _opt_int(raw.get("mode"), "mode"),
        "id": _opt_str(raw.get("id"), "id"),
        "symlink_target": _opt_str(raw.get("symlink_target"), "symlink_target"),
    }


def normalise_language(raw: dict) -> dict:
    languages = []
    for i, lang in enumerate(_list(raw.get("language"), "language")):
        lang = _struct(lang, f"language[{i}]") or {}
        languages.append({"name": _opt_str(lang.get("name"), f"language[{i}].name"),
                          "bytes": _opt_int(lang.get("bytes"), f"language[{i}].bytes")})
    return {"repo_name": _req_str(raw.get("repo_name"), "repo_name"), "language": languages}


NORMALISERS: dict[str, Callable[[dict], dict]] = {
    "commits": normalise_commit,
    "contents": normalise_content,
    "licenses": normalise_license,
    "files": normalise_file,
    "languages": normalise_language,
}

# The key that identifies a record of each table in dead letters and logs.
KEY_FIELDS = {"commits": "commit", "contents": "id", "licenses": "repo_name", "files": "path", "languages": "repo_name"}


def unencodable_field(value: Any, path: str = "") -> Optional[str]:
    """The first field (dotted path) holding text that is not valid UTF-8, or None."""
    if isinstance(value, str):
        return None if is_encodable(value) else (path or "value")
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        found = unencodable_field(item, f"{path}.{key}".lstrip(".") if not key.startswith("[") else f"{path}{key}")
        if found:
            return found
    return None


def normalise(table: str, raw: Any) -> dict:
    if not isinstance(raw, dict):
        raise RecordError(f"a {table} record must be a JSON object, got {type(raw).__name__}")
    record = NORMALISERS[table](raw)
    # Blob text was already checked (and dropped if undecodable) by normalise_content.
    bad = unencodable_field({k: v for k, v in record.items() if k != "content"} if table == "contents" else record)
    if bad:
        raise RecordError(f"field '{bad}' is not valid UTF-8 text")
    return record
