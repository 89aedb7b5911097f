"""Placeholder: being written (storage issue)."""

from zict_core.common import ZictBase


class Zip(ZictBase):  # placeholder until the storage layer lands
    pass
