"""Files written atomically: a temporary file in the same folder, fsync,
rename. A reader (or ``--resume``) sees the old file or the complete new
one, never a part of it, and a crash leaves at most the temporary file.

Used by the checkpoint converters and by
:class:`~mogazoo.engine.hooks.AtomicCheckpointHook`.
"""
import os
import os.path as osp
import shutil
from contextlib import contextmanager

TMP_SUFFIX = '.tmp'


def fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op elsewhere)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_file(tmp_path: str, path: str) -> None:
    """Move the complete file (or folder) ``tmp_path`` to ``path``.

    The data of ``tmp_path`` is fsynced, then ``os.replace`` renames it in
    one step and the folder is fsynced so that the rename survives a crash.

    Args:
        tmp_path (str): The written file, in the folder of ``path``.
        path (str): Where it is to be.
    """
    if osp.isdir(tmp_path):  # DeepSpeed writes a checkpoint folder
        if osp.isdir(path):
            shutil.rmtree(path)
    else:
        fd = os.open(tmp_path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(tmp_path, path)
    fsync_dir(osp.dirname(osp.abspath(path)))


@contextmanager
def atomic_writer(path: str, tmp_path: str = None):
    """Open a binary file whose contents appear at ``path`` only once the
    block has finished without an error.

    Args:
        path (str): The file to write.
        tmp_path (str, optional): The temporary file, in the folder of
            ``path``; created exclusively (an existing one is an error).
            Defaults to ``path + '.tmp'``, replaced if it exists.

    Yields:
        file: The temporary file, open for writing. On an error it is
        removed and the error re-raised; ``path`` is untouched.
    """
    if tmp_path is None:
        tmp_path = path + TMP_SUFFIX
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    else:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    # mode 0o666 minus the umask, as files torch.save opens itself get
    fd = os.open(tmp_path, flags, 0o666)
    try:
        with os.fdopen(fd, 'wb') as f:
            yield f
            f.flush()
        commit_file(tmp_path, path)
    except BaseException:
        if osp.lexists(tmp_path):
            os.remove(tmp_path)
        raise


def write_atomic(path: str, data) -> None:
    """Write ``data`` (bytes, or str as UTF-8) to ``path`` atomically."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    with atomic_writer(path) as f:
        f.write(data)
