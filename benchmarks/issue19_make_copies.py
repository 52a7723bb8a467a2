"""Issue 19: an N-copies dump of the shared sample (copy k > 0 renames commit shas and blob ids by
adding k to their first hex digit, mod 16), for memory scaling runs: python benchmarks/issue19_make_copies.py OUT N
(OUT must exist)."""
import gzip, json, sys, shutil
src, dst, n = "/work/shared/data/github_repos_sample", sys.argv[1], int(sys.argv[2])
# Copy k turns the first hex digit d into (d + k) mod 16, so up to 16 copies never share an id
# (replacing it by k made copy k repeat copy 0's ids that start with k: duplicate commit shas).
def ren(k, s): return s if not isinstance(s, str) or k == 0 or not s else f"{(int(s[0], 16) + k) % 16:x}" + s[1:]
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
