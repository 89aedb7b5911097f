from zict_core.common import ZictBase


class Buffer(ZictBase):
    pass
