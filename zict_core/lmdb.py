"""Placeholder: being written (storage issue)."""

from zict_core.common import ZictBase


class LMDB(ZictBase):  # placeholder until the storage layer lands
    pass
