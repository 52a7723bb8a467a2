"""Issue 19: an N-copies dump of the shared sample (copy k > 0 renames commit shas and blob ids by
putting hex digit k first), for memory scaling runs: python benchmarks/issue19_make_copies.py OUT N
(OUT must exist)."""
import gzip, json, sys, shutil
src, dst, n = "/work/shared/data/github_repos_sample", sys.argv[1], int(sys.argv[2])
def ren(k, s): return s if not isinstance(s, str) or k == 0 else f"{k:x}" + s[1:]
with gzip.open(f"{dst}/commits.jsonl.gz", "wt", compresslevel=1) as out:
    lines = gzip.open(f"{src}/commits.jsonl.gz", "rt").read().splitlines()
    for k in range(n):
        for line in lines:
            c = json.loads(line); c["commit"] = ren(k, c["commit"])
            for d in c.get("difference") or []:
                d["old_sha1"], d["new_sha1"] = ren(k, d.get("old_sha1")), ren(k, d.get("new_sha1"))
            out.write(json.dumps(c) + "\n")
with gzip.open(f"{dst}/contents.jsonl.gz", "wt", compresslevel=1) as out:
    lines = gzip.open(f"{src}/contents.jsonl.gz", "rt").read().splitlines()
    for k in range(n):
        for line in lines:
            b = json.loads(line); b["id"] = ren(k, b["id"]); out.write(json.dumps(b) + "\n")
shutil.copy(f"{src}/licenses.jsonl.gz", f"{dst}/licenses.jsonl.gz")
