"""The order of a repository's files in its documents: every file after the files it imports.

StarCoder2 and DeepSeek-Coder concatenate a repository's files in dependency order, so a model
reads a definition before its uses. Here:

1. the import graph: an edge ``a -> b`` when ``a`` imports ``b`` (``resolve.py``);
2. its strongly connected components (Tarjan, iterative): a cycle (``a`` imports ``b`` imports
   ``a``) is one component;
3. the components in topological order, dependencies first; among the components that are
   ready, the one with the smallest path first (a heap), so the order is a function of the
   graph alone;
4. inside a component (a cycle), the file with the fewest imports of files still to be placed
   first, ties by path: the cycle is broken where it costs the fewest edges at that step;
5. then every file that takes part in no resolved import, by path.

``order`` is ``dependency`` when the repository has any edge, else ``path`` (step 5 alone).
"""

from __future__ import annotations

import heapq
from typing import Iterable, NamedTuple

DEPENDENCY = "dependency"
PATH = "path"
ORDERS = (DEPENDENCY, PATH)


class Ordering(NamedTuple):
    paths: tuple                # every file, in document order
    order: str                  # DEPENDENCY | PATH
    by_dependency: int          # files placed by the graph (the rest follow by path)
    cycles: int                 # components of more than one file
    cycle_files: int            # files in those components
    back_edges: int             # imports of a file placed later (only inside cycles)


def strongly_connected(nodes: list[str], deps: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's components of the graph ``node -> deps[node]``, iteratively (no recursion
    limit on deep import chains). Nodes are visited in the given order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = deps.get(node, [])
            recurse = False
            while i < len(children):
                child = children[i]
                i += 1
                if child not in index:
                    work.append((node, i))
                    work.append((child, 0))
                    recurse = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if recurse:
                continue
            if work and low[node] < low[work[-1][0]]:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _break_cycle(members: list[str], deps: dict[str, list[str]]) -> list[str]:
    remaining = set(members)
    placed = []
    while remaining:
        pick = min(remaining, key=lambda n: (sum(d in remaining and d != n for d in deps.get(n, ())), n))
        placed.append(pick)
        remaining.discard(pick)
    return placed


def dependency_order(paths: Iterable[str], edges: Iterable[tuple[str, str]]) -> Ordering:
    """``edges``: (importer, imported) pairs between files of ``paths`` (others and self-edges
    are ignored). See the module docstring."""
    all_paths = sorted(set(paths))
    known = set(all_paths)
    deps: dict[str, set[str]] = {}
    for a, b in edges:
        if a != b and a in known and b in known:
            deps.setdefault(a, set()).add(b)
            deps.setdefault(b, set())
    graph = {n: sorted(d) for n, d in deps.items()}
    nodes = sorted(graph)
    components = strongly_connected(nodes, graph)
    component_of = {n: i for i, members in enumerate(components) for n in members}
    # Component DAG: c -> the components it depends on; ready when all of those are placed.
    waiting = [0] * len(components)
    dependants: dict[int, set[int]] = {}
    for n, ds in graph.items():
        for d in ds:
            a, b = component_of[n], component_of[d]
            if a != b and a not in dependants.setdefault(b, set()):
                dependants[b].add(a)
                waiting[a] += 1
    heap = [(min(members), i) for i, members in enumerate(components) if waiting[i] == 0]
    heapq.heapify(heap)
    ordered: list[str] = []
    while heap:
        _, i = heapq.heappop(heap)
        members = components[i]
        ordered += sorted(members) if len(members) == 1 else _break_cycle(members, graph)
        for j in sorted(dependants.get(i, ())):
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(heap, (min(components[j]), j))
    position = {n: k for k, n in enumerate(ordered)}
    back = sum(1 for n, ds in graph.items() for d in ds if position[d] > position[n])
    rest = [p for p in all_paths if p not in position]
    cycles = [c for c in components if len(c) > 1]
    return Ordering(tuple(ordered + rest), DEPENDENCY if ordered else PATH, len(ordered), len(cycles),
                    sum(len(c) for c in cycles), back)


def path_order(paths: Iterable[str]) -> Ordering:
    return Ordering(tuple(sorted(set(paths))), PATH, 0, 0, 0, 0)
