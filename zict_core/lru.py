"""The LRU mapping (mirrors ``zict.lru``); implemented in the compiled ``_lru``."""

from zict_core._lru import LRU, HeavyView, LRUStats, OrderView, WeightsView
from zict_core.common import ZictBase

# A compiled type cannot inherit the Python ZictBase: register it instead, so
# isinstance(lru, ZictBase) and isinstance(lru, MutableMapping) hold.
ZictBase.register(LRU)

__all__ = ["LRU", "HeavyView", "LRUStats", "OrderView", "WeightsView"]
