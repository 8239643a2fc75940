"""Imported by a run under test (the config's ``custom_imports``): the
second checkpoint write (mmengine's ``LocalBackend.put``) fails with
``FAILING_SAVE_ERRNO`` (ENOSPC: a full disk; EROFS: a read-only file
system) after writing some bytes, as a full disk does."""
import errno
import os

from mmengine.fileio.backends import local_backend

_put = local_backend.LocalBackend.put
_count = [0]


def put(self, obj, filepath):
    _count[0] += 1
    if _count[0] < 2:
        return _put(self, obj, filepath)
    name = os.environ.get('FAILING_SAVE_ERRNO', 'ENOSPC')
    with open(filepath, 'wb') as f:
        f.write(obj[:len(obj) // 3])
    code = getattr(errno, name)
    raise OSError(code, os.strerror(code), filepath)


local_backend.LocalBackend.put = put
