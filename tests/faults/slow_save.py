"""Imported by a run under test (the config's ``custom_imports``): every
checkpoint write (mmengine's ``LocalBackend.put``) writes half of its bytes,
leaves ``<file>.half`` as a sign for the test, and sleeps, so the test can
``kill -9`` the run in the middle of a write. ``SLOW_SAVE_FROM`` (default 2)
is the first write slowed, counting from 1."""
import os
import time

from mmengine.fileio.backends import local_backend

_put = local_backend.LocalBackend.put
_count = [0]


def put(self, obj, filepath):
    _count[0] += 1
    if _count[0] < int(os.environ.get('SLOW_SAVE_FROM', '2')):
        return _put(self, obj, filepath)
    with open(filepath, 'wb') as f:
        f.write(obj[:len(obj) // 2])
        f.flush()
        os.fsync(f.fileno())
        open(f'{filepath}.half', 'w').close()
        time.sleep(120)  # killed here
        f.write(obj[len(obj) // 2:])


local_backend.LocalBackend.put = put
