"""The shape every filter shares, and the chain that applies a configured list of them.

A filter is a small class: thresholds are constructor arguments, and one method,
``drop_reason(record)``, returns ``None`` to keep the record or a short reason string to drop
it. Counting (``filter/<name>/<reason>``), ordering and enabling live once, in ``FilterChain``:
adding a rule never touches bookkeeping (the datatrove pattern, see STYLE.md).
"""

from __future__ import annotations

from typing import ClassVar, Iterable, Optional


class Filter:
    """Base class. Subclasses set ``name`` and implement ``drop_reason``."""

    name: ClassVar[str] = ""

    def drop_reason(self, record: dict) -> Optional[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in sorted(vars(self).items()) if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


class FilterChain:
    """Applies filters in order; the first that drops a record names the reason."""

    def __init__(self, filters: Iterable[Filter]):
        self.filters = list(filters)

    def first_drop(self, record: dict) -> Optional[tuple[str, str]]:
        """``None`` if every filter keeps the record, else ``(filter name, reason)``."""
        for f in self.filters:
            reason = f.drop_reason(record)
            if reason is not None:
                return f.name, reason
        return None


def counter_name(filter_name: str, reason: str) -> str:
    return f"filter/{filter_name}/{reason}"


def build_chain(registry: dict[str, type[Filter]], section: dict) -> FilterChain:
    """A chain of the enabled filters of one config section, in the section's order.

    ``section`` maps filter name -> {enabled: bool, **constructor arguments}.
    """
    from codecorpus.config import ConfigError

    filters = []
    for name, params in section.items():
        params = dict(params or {})
        if not params.pop("enabled", True):
            continue
        if name not in registry:
            raise ConfigError(f"unknown filter '{name}'; known: {', '.join(sorted(registry))}")
        try:
            filters.append(registry[name](**params))
        except TypeError as e:
            raise ConfigError(f"bad parameters for filter '{name}': {e}") from e
    return FilterChain(filters)
