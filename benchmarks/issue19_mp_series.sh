#!/bin/bash
# usage: benchmarks/issue19_mp_series.sh TAG INPUT [VAR=value ...] -- [job args]
mkdir -p /tmp/hmem
# Issue 19, item 4: runs `codecorpus commits` on INPUT under /usr/bin/time (CPU-s of the job and the
# worker processes it waited for), samples the summed RSS of its process tree and its largest process
# every 0.5 s, kills it above 14 GB (like issue19_treemem.sh); appends one line to /tmp/hmem/peak_TAG.txt.
# TREE=path picks the source tree (default: this checkout).
tag=$1; in=$2; shift 2
out=/tmp/hmem/peak_$tag.txt; rm -f $out
envs=(); while [ "$1" != "--" ] && [ -n "$1" ]; do envs+=("$1"); shift; done; shift
"env" "${envs[@]}" PYTHONPATH=${TREE:-$(cd "$(dirname "$0")/.." && pwd)} /usr/bin/time -f "cpu_user=%U cpu_sys=%S wall=%e maxrss_kb=%M" /work/main/.venv/bin/python -m codecorpus.cli commits --input $in --output /tmp/hmem/o_$tag --overwrite --quiet "$@" > /tmp/hmem/log_$tag 2>&1 &
pid=$!
peak=0; peakmax=0
while kill -0 $pid 2>/dev/null; do
  pids=$(pstree -p -T $pid 2>/dev/null | grep -o '([0-9]*)' | tr -d '()')
  tot=0; mx=0; for p in $pids; do r=$(awk '/VmRSS/ {print $2}' /proc/$p/status 2>/dev/null); r=${r:-0}; tot=$((tot + r)); [ $r -gt $mx ] && mx=$r; done
  [ $tot -gt $peak ] && peak=$tot
  [ $mx -gt $peakmax ] && peakmax=$mx
  if [ $tot -gt 14000000 ]; then echo "killing at $tot kB" >> $out; kill $pids 2>/dev/null; fi
  sleep 0.5
done
wait $pid; echo "$tag rc=$? peak_tree_rss_mb=$((peak/1024)) largest_process_mb=$((peakmax/1024)) $(grep cpu_user /tmp/hmem/log_$tag)" >> $out
cat $out
