"""Issue 19: CPU-seconds to build a job's graph (the run stopped at ``Pipeline.run``) and to turn
it into the runner API, without running it: the fixed cost every run pays.

    PYTHONPATH=TREE python benchmarks/issue19_build_cost.py commits|files [--input DUMP]
"""
import time, sys
import apache_beam as beam
from codecorpus import cli
class Built(Exception): pass
def capture(self, *a, **k): raise Built(self)
beam.Pipeline.run = capture
job = sys.argv[1]
dump = sys.argv[sys.argv.index("--input") + 1] if "--input" in sys.argv else "/work/shared/data/github_repos_sample"
parser, modules = cli.build_parser(job)
sub = parser._subparsers._group_actions[0].choices[job]
import shutil, tempfile
OUT = tempfile.mkdtemp() + "/out"
args, beam_args = sub.parse_known_args(["--input", dump, "--output", OUT])
t = time.process_time()
try:
    modules[job].run(args, beam_args)
except Built as b:
    p = b.args[0]
t1 = time.process_time(); proto = p.to_runner_api(); t2 = time.process_time()
print(job, "build", round(t1 - t, 2), "to_runner_api", round(t2 - t1, 2), "transforms", len(proto.components.transforms))
