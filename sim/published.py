"""Published results an experiment is checked against: its ``published:`` section.

```yaml
published:
  source: "Dao et al., FlashAttention (NeurIPS 2022), Fig. 2 left"
  values:
    - where: {workload.algorithm: standard}   # selects one point by its swept values
      metric: hbm_gb                           # any results column (metric, tier field)
      value: 40.3
      tolerance: 0.15                          # relative; omit: shown beside ours, not checked
      note: "forward + backward"               # optional
```

The report sets each published value beside ours with the relative difference;
``compare`` returns the same rows for tests (a toleranced value outside its band fails).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.config import yamlfile as y
from sim.config.yamlfile import Node

PUBLISHED_KEYS = ("source", "values")
VALUE_KEYS = ("where", "metric", "value", "tolerance", "note")


@dataclass(frozen=True)
class PublishedValue:
    where: dict[str, Any]
    metric: str
    value: float
    tolerance: float | None
    note: str
    node: Node | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Published:
    source: str
    values: tuple[PublishedValue, ...]


@dataclass(frozen=True)
class Comparison:
    entry: PublishedValue
    ours: float | None  # None: no such point or metric in the results

    @property
    def difference(self) -> float | None:
        """(ours - published) / published."""
        if self.ours is None or self.entry.value == 0:
            return None
        return (self.ours - self.entry.value) / self.entry.value

    @property
    def checked(self) -> bool:
        return self.entry.tolerance is not None

    @property
    def within(self) -> bool | None:
        if not self.checked:
            return None
        d = self.difference
        return d is not None and abs(d) <= self.entry.tolerance


def parse_published(node: Node | None, swept: list[str]) -> Published | None:
    from sim.experiment import where_of  # the plots' where; experiment.py imports this module

    if node is None:
        return None
    y.check_keys(node, PUBLISHED_KEYS)
    source = y.as_str(y.require(node, "source"))
    items = y.require(node, "values")
    if not isinstance(items.value, list) or not items.value:
        raise items.error("expected a non-empty list of {where, metric, value, tolerance}")
    out = []
    for item in items.value:
        if not item.is_mapping:
            raise item.error("expected a mapping with where, metric and value")
        y.check_keys(item, VALUE_KEYS)
        where = where_of(item.get("where"), swept)
        tol_node = item.get("tolerance")
        tol = None
        if tol_node is not None:
            tol = float(y.as_number(tol_node))
            if not 0 < tol < 10:
                raise tol_node.error(f"a relative tolerance such as 0.15, got {tol}")
        note = y.as_str(item.value["note"]) if "note" in item else ""
        out.append(PublishedValue(where, y.as_str(y.require(item, "metric")),
                                  float(y.as_number(y.require(item, "value"))), tol, note, item))
    return Published(source, tuple(out))


def compare(rs: Any, published: Published) -> list[Comparison]:
    """Each published value beside ours (the row its `where` selects; rs: a ResultSet)."""
    from sim.plots import matching

    out = []
    for e in published.values:
        rows = matching(rs, e.where)
        ours = rs.value(rows[0], e.metric) if len(rows) == 1 else None
        ours = float(ours) if isinstance(ours, int | float) and not isinstance(ours, bool) else None
        out.append(Comparison(e, ours))
    return out
