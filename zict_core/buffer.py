"""The Buffer mapping (mirrors ``zict.buffer``); implemented in the compiled ``_buffer``."""

from zict_core._buffer import Buffer, BufferItemsView, BufferStats, BufferValuesView
from zict_core.common import ZictBase

# A compiled type cannot inherit the Python ZictBase: register it instead, so
# isinstance(buffer, ZictBase) and isinstance(buffer, MutableMapping) hold.
ZictBase.register(Buffer)

__all__ = ["Buffer", "BufferItemsView", "BufferStats", "BufferValuesView"]
