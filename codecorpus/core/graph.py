"""Graphs over PCollections: a streaming keyed join, and connected components of edges.

Plain functions do the work on one node (``large_star``, ``small_star``) or on a whole edge list
in memory (``component_labels``: the reference the Beam transform is tested against); the
transforms are thin. Counters travel as ``(name, n)`` stats pairs (``counted``, ``zero_counters``,
``stats_of_count``), like every stage's in ``core.routing``.

- ``stream_join(label, ones, many, fn)``: at most one value per key from each of ``ones`` meets
  any number of values from ``many``, read in two streaming passes (a key of huge degree is
  never held).
- ``ConnectedComponents(max_rounds)``: undirected edges -> ``(node, label)``, the label being the
  smallest node of the component (alternating large- and small-star rounds).
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Optional

import apache_beam as beam

from codecorpus.core.routing import STATS, Count, route_events

Edge = tuple  # (a, b): two node names


# --- counters as stats pairs ---------------------------------------------------------------------


def counted(name: str, value: int = 1):
    """A ``(counter, value)`` stats output (nothing for 0: ``zero_counters`` lists the names)."""
    return route_events([Count(name, value)] if value else [], "graph")


def zero_counters(pipeline, label: str, names: Iterable[str]):
    """Every counter a stage may increment, at 0, so the manifest always lists it."""
    return pipeline | label >> beam.Create([(name, 0) for name in names])


def stats_of_count(pcoll, label: str, counter: str):
    """``(counter, n)`` for the size of ``pcoll`` (0 when empty)."""
    return (pcoll
            | f"{label}Ones" >> beam.Map(lambda _: 1)
            | f"{label}Sum" >> beam.CombineGlobally(sum)
            | f"{label}Name" >> beam.Map(lambda n: (counter, n)))


def reiterable(values: Iterable) -> Iterable:
    """GroupByKey values can be iterated more than once (and are paged, not held, on Dataflow);
    a plain iterator cannot, so materialise that case only."""
    return list(values) if iter(values) is values else values


# --- streaming joins -----------------------------------------------------------------------------


class _StreamJoinFn(beam.DoFn):
    def __init__(self, fn: Callable):
        self.fn = fn

    def process(self, element):
        key, values = element
        values = reiterable(values)
        ones = {}
        for tag, value in values:  # pass 1: the single-valued sides (one value per key expected)
            if tag != "*" and (tag not in ones or repr(value) < repr(ones[tag])):
                ones[tag] = value
        yield from self.fn(key, ones, (value for tag, value in values if tag == "*"))


def stream_join(label: str, ones: dict, many, fn: Callable):
    """Join at most one value per key from each of ``ones`` (name -> PCollection of (k, v)) with
    any number from ``many`` (a PCollection of (k, w), or None) without holding a group:
    ``fn(key, {name: v}, iterator of w)`` yields outputs, ``TaggedOutput(STATS, ...)`` included.
    Several values of one key in a ``ones`` side: the smallest by ``repr`` (deterministic).
    Returns the ParDo's outputs (``.out`` and ``[STATS]``)."""
    tagged = [pcoll | f"{label}Tag_{name}" >> beam.Map(lambda kv, name=name: (kv[0], (name, kv[1])))
              for name, pcoll in ones.items()]
    if many is not None:
        tagged.append(many | f"{label}Tag_many" >> beam.Map(lambda kv: (kv[0], ("*", kv[1]))))
    return (tagged | f"{label}Flatten" >> beam.Flatten()
            | f"{label}Group" >> beam.GroupByKey()
            | f"{label}Join" >> beam.ParDo(_StreamJoinFn(fn)).with_outputs(STATS, main="out"))


# --- connected components ------------------------------------------------------------------------


def orient(edge: Edge) -> Edge:
    """An undirected edge as ``(larger, smaller)``."""
    a, b = edge
    return (a, b) if a > b else (b, a)


def large_star(node, neighbours: Iterable) -> Iterator[Edge]:
    """Node u with neighbours N (read twice): every larger neighbour is linked to min(N + u)
    instead of u. An edge changed when its smaller end is not u."""
    neighbours = reiterable(neighbours)
    m = min(min(neighbours), node)
    for v in neighbours:
        if v > node:
            yield v, m


def small_star(node, lows: Iterable) -> Iterator[Edge]:
    """Node u with smaller neighbours L (read twice): u and all of L are linked to min(L). An
    edge changed when its larger end is not u."""
    lows = reiterable(lows)
    m = min(lows)
    yield node, m
    for v in lows:
        if v != m:
            yield v, m


def component_labels(edges: Iterable[Edge]) -> dict:
    """Every node on an edge -> the smallest node of its component (union-find, in memory)."""
    parent: dict = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {node: find(node) for node in parent}


class _StarStep(beam.DoFn):
    """One large- or small-star step; counts the edges it changed under each of ``counters``."""

    def __init__(self, step: Callable, changed_end: int, *counters: Optional[str]):
        self.step, self.changed_end = step, changed_end
        self.counters = [c for c in counters if c]

    def process(self, element):
        node, neighbours = element
        changed = 0
        for edge in self.step(node, neighbours):
            changed += edge[self.changed_end] != node
            yield edge
        for counter in self.counters if changed else ():
            yield from counted(counter, changed)


class ConnectedComponents(beam.PTransform):
    """Undirected edges ``(a, b)`` -> ``(node, label)``, the label being the smallest node of
    its component, for every node on an edge; plus ``stats``.

    Alternating large-star and small-star (Kiveris et al., "Connected Components in MapReduce
    and Beyond", 2014), unrolled for ``max_rounds`` rounds in the pipeline graph. Each node's
    neighbours are read in two streaming passes, so a node of huge degree is never held. A
    round that changes no edge means the graph is a set of stars around each component's
    minimum: ``<prefix>/round_NN_changes`` counts the edges each round changed and
    ``<prefix>/unconverged_changes`` those of the last round (0: converged). If it is not 0,
    each node takes the smallest of itself and its neighbours: deterministic, and a component
    may stay split (never wrongly merged)."""

    def __init__(self, max_rounds: int, counter_prefix: str = "dedup/cc"):
        super().__init__()
        if max_rounds < 1:
            raise ValueError("max_rounds must be at least 1")
        self.max_rounds = max_rounds
        self.prefix = counter_prefix

    def expand(self, edges):
        names = [f"{self.prefix}/round_{r:02d}_changes" for r in range(1, self.max_rounds + 1)]
        last = f"{self.prefix}/unconverged_changes"
        stats = [zero_counters(edges.pipeline, "ZeroCounters", names + [last])]
        edges = edges | "Orient" >> beam.Map(orient) | "DistinctEdges" >> beam.Distinct()
        for r, name in enumerate(names, start=1):
            counters = (name, last if r == self.max_rounds else None)
            step = f"Round{r:02d}"
            large = (edges
                     | f"{step}BothWays" >> beam.FlatMap(lambda e: [e, (e[1], e[0])])
                     | f"{step}Neighbours" >> beam.GroupByKey()
                     | f"{step}LargeStar" >> beam.ParDo(_StarStep(large_star, 1, *counters))
                     .with_outputs(STATS, main="edges"))
            edges = large.edges | f"{step}DistinctLarge" >> beam.Distinct()
            small = (edges
                     | f"{step}SmallerNeighbours" >> beam.GroupByKey()
                     | f"{step}SmallStar" >> beam.ParDo(_StarStep(small_star, 0, *counters))
                     .with_outputs(STATS, main="edges"))
            edges = small.edges | f"{step}DistinctSmall" >> beam.Distinct()
            stats += [large[STATS], small[STATS]]
        labels = (edges
                  | "NodeAndNeighbour" >> beam.FlatMap(lambda e: [(e[0], e[1]), (e[1], e[1])])
                  | "SmallestNeighbour" >> beam.CombinePerKey(min))
        return {"labels": labels, STATS: tuple(stats) | "CCStats" >> beam.Flatten()}
