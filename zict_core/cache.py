"""Placeholder: being written (Buffer issue)."""

from zict_core.common import ZictBase


class Cache(ZictBase):
    pass


class WeakValueMapping(ZictBase):
    pass
