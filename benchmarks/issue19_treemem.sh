#!/bin/bash
# usage: treemem.sh OUTFILE -- command...  : runs command, samples the summed RSS of its process tree every 0.5 s, kills it above 14 GB
out=$1; shift; shift
"$@" > /tmp/treemem_job.log 2>&1 &
pid=$!
peak=0
while kill -0 $pid 2>/dev/null; do
  pids=$(pstree -p -T $pid 2>/dev/null | grep -o '([0-9]*)' | tr -d '()')
  [ -z "$pids" ] && pids=$pid
  tot=0; for p in $pids; do r=$(awk '/VmRSS/ {print $2}' /proc/$p/status 2>/dev/null); tot=$((tot + ${r:-0})); done
  [ $tot -gt $peak ] && peak=$tot
  if [ $tot -gt 14000000 ]; then echo "killing at $tot kB" >> $out; kill -- -$pid 2>/dev/null; kill $pid; fi
  sleep 0.5
done
wait $pid; echo "rc=$? peak_tree_rss_mb=$((peak/1024))" >> $out
