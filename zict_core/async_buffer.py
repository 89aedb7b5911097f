from zict_core.buffer import Buffer


class AsyncBuffer(Buffer):
    pass
