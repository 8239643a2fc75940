"""Reading pickled files without running the code they may carry.

A pickle names the functions and classes (its *globals*) that rebuild its
objects, and plain unpickling calls them: a crafted file can name
``posix.system`` or ``builtins.exec`` and run anything. This module reads
files through unpicklers that resolve only an allow-list of globals, and
lists the globals of a file *statically* (from its opcodes, without
unpickling it) to say which ones a refused file needs:

- :func:`load_plain_pickle` reads plain results (``tools/test.py --out``):
  builtin containers, numbers, strings, numpy arrays and torch tensors.
- :func:`load_torch_file` reads a ``torch.save`` file (an official or an
  mmengine checkpoint) with ``weights_only=True`` plus
  ``argparse.Namespace``. Files that reference modules or builtins which can
  run code or touch the system (:func:`dangerous_globals`) are refused
  outright, even when the caller trusts the file.
"""
import _compat_pickle
import argparse
import builtins
import io
import os.path as osp
import pickle
import pickletools
import types
import zipfile
from collections import OrderedDict

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from torch import _utils
from torch._tensor import _rebuild_from_type_v2 as _torch_rebuild_from_type

try:  # numpy >= 2
    from numpy._core import multiarray, numeric
except ImportError:  # numpy 1.x
    from numpy.core import multiarray, numeric

#: Modules (and their sub-modules) whose functions can run code, start
#: processes, open files or sockets, or reach any object of the process.
DANGEROUS_MODULES = frozenset({
    '__builtin__', '_io', '_operator', '_pickle', '_posixsubprocess',
    '_thread', 'asyncio', 'bdb', 'cProfile', 'cffi', 'cloudpickle', 'code',
    'codeop', 'commands', 'concurrent', 'ctypes', '_ctypes', 'dill',
    'distutils', 'doctest', 'fileinput', 'ftplib', 'gc', 'http', 'imp',
    'importlib', 'inspect', 'io', 'joblib', 'marshal', 'multiprocessing', 'nt',
    'operator', 'os', 'pathlib', 'pdb', 'pickle', 'pip', 'pkgutil', 'posix',
    'profile', 'pty', 'resource', 'runpy', 'setuptools', 'shutil', 'signal',
    'site', 'smtplib', 'socket', 'subprocess', 'sys', 'telnetlib', 'tempfile',
    'threading', 'timeit', 'trace', 'types', 'urllib', 'webbrowser', 'xmlrpc',
    'zipimport'
})

#: Sub-modules of otherwise harmless packages that load or run code
#: (``torch.fx`` executes generated source, ``torch.hub`` downloads code).
DANGEROUS_SUBMODULES = ('numpy.testing', 'torch.fx', 'torch.hub',
                        'torch.package', 'torch.serialization',
                        'torch.utils.cpp_extension')

#: Single globals that run code, reach attributes or load nested pickles.
DANGEROUS_GLOBALS = frozenset([
    f'builtins.{name}'
    for name in ('__import__', 'breakpoint', 'compile', 'delattr', 'eval',
                 'exec', 'exit', 'getattr', 'globals', 'help', 'input',
                 'locals', 'open', 'quit', 'setattr', 'vars')
] + ['torch.load', 'torch.storage._load_from_bytes'])

#: What :func:`pickle_globals` reports for a ``STACK_GLOBAL`` whose module
#: or name is not a string literal of the pickle (computed while loading).
COMPUTED_GLOBAL = '<a global whose name is computed while loading>'


class UnsafeFileError(RuntimeError):
    """A file references globals that can run code; it was not loaded."""


def _normalize(module, name):
    """Python 2 names as Python 3's unpickler maps them (``__builtin__``
    -> ``builtins``)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name


def is_dangerous_global(name):
    """Whether a global can run code or touch the system.

    Args:
        name (str): ``module.qualname`` as :func:`pickle_globals` lists it.

    Returns:
        bool: True for :data:`COMPUTED_GLOBAL`, any global of
        :data:`DANGEROUS_MODULES` or :data:`DANGEROUS_SUBMODULES` and the
        single :data:`DANGEROUS_GLOBALS`.
    """
    if name == COMPUTED_GLOBAL or name in DANGEROUS_GLOBALS:
        return True
    module = name.rpartition('.')[0]
    if module.split('.')[0] in DANGEROUS_MODULES:
        return True
    return any(module == m or module.startswith(m + '.')
               for m in DANGEROUS_SUBMODULES)


def dangerous_globals(names):
    """The dangerous ones among ``names``, sorted.

    Args:
        names (Iterable[str]): Globals as :func:`pickle_globals` lists them.

    Returns:
        list[str]: Those :func:`is_dangerous_global` flags.
    """
    return sorted({n for n in names if is_dangerous_global(n)})


_STRING_OPS = frozenset({
    'STRING', 'BINSTRING', 'SHORT_BINSTRING', 'UNICODE', 'BINUNICODE',
    'SHORT_BINUNICODE', 'BINUNICODE8'
})


def pickle_globals(file):
    """The globals one pickle references, read from its opcodes without
    unpickling it.

    ``GLOBAL`` and ``INST`` name their global in the opcode; for
    ``STACK_GLOBAL`` the module and name strings are followed through the
    stack and the memo. A ``STACK_GLOBAL`` fed by anything but string
    literals is listed as :data:`COMPUTED_GLOBAL`.

    Args:
        file (bytes | file-like): The pickle; a file is read up to the
            pickle's ``STOP`` opcode.

    Returns:
        list[str]: ``module.name`` of every global, in order of first use
        (Python 2 names mapped as the unpickler maps them).

    Raises:
        ValueError: The data are not a complete pickle.
    """
    if isinstance(file, (bytes, bytearray)):
        file = io.BytesIO(file)
    mark = object()
    other = object()
    stack, memo, found = [], {}, {}
    for op, arg, _ in pickletools.genops(file):
        if op.name in ('GLOBAL', 'INST'):
            module, name = _normalize(*arg.split(' ', 1))
            found.setdefault(f'{module}.{name}')
        elif op.name == 'STACK_GLOBAL':
            module, name = (stack[-2], stack[-1]) if len(stack) > 1 else \
                (None, None)
            if isinstance(module, str) and isinstance(name, str):
                found.setdefault('.'.join(_normalize(module, name)))
            else:
                found.setdefault(COMPUTED_GLOBAL)
        if op.name in ('PUT', 'BINPUT', 'LONG_BINPUT', 'MEMOIZE'):
            key = len(memo) if op.name == 'MEMOIZE' else arg
            memo[key] = stack[-1] if stack else other
            continue
        if op.name in ('GET', 'BINGET', 'LONG_BINGET'):
            stack.append(memo.get(arg, other))
            continue
        before = op.stack_before
        if pickletools.markobject in before:
            while stack and stack.pop() is not mark:
                pass
            before = before[:before.index(pickletools.markobject)]
        if before:
            del stack[-len(before):]
        if op.name == 'MARK':
            stack.append(mark)
        elif op.name in _STRING_OPS:
            stack.append(arg if isinstance(arg, str) else other)
        else:
            stack.extend(other for _ in op.stack_after)
    return list(found)


def torch_file_globals(path):
    """The globals a ``torch.save`` file references, read statically.

    Args:
        path (str): A zip-format file (torch >= 1.6: its ``data.pkl``) or a
            legacy one (its leading pickles).

    Returns:
        list[str]: ``module.name`` of every global.

    Raises:
        ValueError: The file is neither (or is truncated).
    """
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [
                n for n in zf.namelist()
                if n == 'data.pkl' or n.endswith('/data.pkl')
            ]
            if not names:
                raise ValueError(f'{path} is a zip file without data.pkl')
            found = {}
            for name in names:
                for glob in pickle_globals(zf.read(name)):
                    found.setdefault(glob)
            return list(found)
    found = {}
    size = osp.getsize(path)
    with open(path, 'rb') as f:
        # magic number, protocol, system info, the object, storage keys
        for _ in range(5):
            for glob in pickle_globals(f):
                found.setdefault(glob)
            if f.tell() >= size:
                break
    return list(found)


# --------------------------------------------------------------------------
# Plain results
# --------------------------------------------------------------------------


def _encode_latin1(text, encoding='latin1'):
    """Stands in for ``_codecs.encode``, with which protocol 2 pickles
    ``bytes``; only the latin-1 codec those pickles use is answered."""
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        raise pickle.UnpicklingError(
            f'_codecs.encode(..., {encoding!r}) is not allowed')
    return text.encode(encoding)


def _storage_from_bytes(data):
    """Stands in for ``torch.storage._load_from_bytes``: a storage pickled
    with plain pickle is a nested ``torch.save`` file, which torch's own
    function reads with ``weights_only=False``; here it is read with
    ``weights_only=True`` and must hold a storage."""
    if not isinstance(data, bytes):
        raise pickle.UnpicklingError('a tensor storage must be bytes')
    storage = torch.load(
        io.BytesIO(data), map_location='cpu', weights_only=True)
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise pickle.UnpicklingError(
            f'a tensor storage holds a {type(storage).__name__}')
    return storage


def _rebuild_from_type_v2(func, new_type, args, state):
    """``torch._tensor._rebuild_from_type_v2`` for plain tensors and
    parameters only."""
    if new_type not in (torch.Tensor, torch.nn.Parameter):
        raise pickle.UnpicklingError(
            f'tensors of type {new_type!r} are not allowed')
    return _torch_rebuild_from_type(func, new_type, args, state)


def _plain_globals():
    """``module.name`` -> object of everything a plain results pickle may
    reference."""
    allowed = {
        f'builtins.{name}': getattr(builtins, name)
        for name in ('bool', 'bytearray', 'bytes', 'complex', 'dict', 'float',
                     'frozenset', 'int', 'list', 'range', 'set', 'slice',
                     'str', 'tuple')
    }
    allowed['_codecs.encode'] = _encode_latin1
    allowed['collections.OrderedDict'] = OrderedDict
    # numpy arrays, dtypes and scalars, as numpy 1.x and 2.x name them
    for module in ('numpy.core', 'numpy._core'):
        allowed[f'{module}.multiarray._reconstruct'] = multiarray._reconstruct
        allowed[f'{module}.multiarray.scalar'] = multiarray.scalar
        if hasattr(numeric, '_frombuffer'):
            allowed[f'{module}.numeric._frombuffer'] = numeric._frombuffer
    allowed['numpy.ndarray'] = np.ndarray
    allowed['numpy.dtype'] = np.dtype
    for name in dir(getattr(np, 'dtypes', None)):
        if name.endswith('DType'):
            allowed[f'numpy.dtypes.{name}'] = getattr(np.dtypes, name)
    # torch tensors, as plain pickle writes them
    for name in ('_rebuild_tensor', '_rebuild_tensor_v2',
                 '_rebuild_parameter'):
        allowed[f'torch._utils.{name}'] = getattr(_utils, name)
    allowed['torch._tensor._rebuild_from_type_v2'] = _rebuild_from_type_v2
    allowed['torch.storage._load_from_bytes'] = _storage_from_bytes
    allowed['torch.Size'] = torch.Size
    allowed['torch.device'] = torch.device
    for name, value in vars(torch).items():  # no lazy sub-module imports
        if isinstance(value, torch.dtype):
            allowed[f'torch.{name}'] = value
    return allowed


class PlainUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of plain data: builtin
    containers, numbers, strings and bytes, ``collections.OrderedDict``,
    numpy arrays / dtypes / scalars and torch tensors. Any other global
    raises :class:`UnsafeFileError` naming it, before it is imported.

    Args:
        file (file-like): The pickle, opened in binary mode.
    """

    _allowed = None

    def find_class(self, module, name):
        if PlainUnpickler._allowed is None:
            PlainUnpickler._allowed = _plain_globals()
        full = '.'.join(_normalize(module, name))
        if full not in self._allowed:
            raise UnsafeFileError(f'{full} is not allowed')
        return self._allowed[full]

    def persistent_load(self, pid):
        raise pickle.UnpicklingError('persistent ids are not allowed')


def load_plain_pickle(path, what='Pickle file'):
    """Read a pickle of plain data without running any code of it.

    Every global the file references is listed first (statically); if one
    is not allowed by :class:`PlainUnpickler` the file is refused, naming
    them all. Otherwise it is unpickled by :class:`PlainUnpickler`.

    Args:
        path (str): The file.
        what (str): What the file is, for messages. Defaults to
            ``'Pickle file'``.

    Returns:
        The unpickled object.

    Raises:
        FileNotFoundError: The file is missing.
        UnsafeFileError: It references globals other than plain data's
            (a :class:`RuntimeError`).
        RuntimeError: It is truncated or not a pickle.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    if PlainUnpickler._allowed is None:
        PlainUnpickler._allowed = _plain_globals()
    allowed = PlainUnpickler._allowed
    hint = ('only lists, dicts, numbers, strings, numpy arrays and torch '
            'tensors are read')
    try:
        with open(path, 'rb') as f:
            names = pickle_globals(f)
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise RuntimeError(
            f'Could not read {what.lower()} {path} (truncated '
            f'or not a pickle?): {type(exc).__name__}: {exc}') from exc
    refused = [n for n in names if n not in allowed]
    if refused:
        raise UnsafeFileError(
            f'{what} {path} is refused: it references {", ".join(refused)} '
            f'({hint}); nothing of it was run')
    try:
        with open(path, 'rb') as f:
            return PlainUnpickler(f).load()
    except UnsafeFileError as exc:
        raise UnsafeFileError(f'{what} {path} is refused: {exc} ({hint}); '
                              'nothing of it was run') from exc
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise RuntimeError(f'Could not read {what.lower()} {path}: '
                           f'{type(exc).__name__}: {exc}') from exc


# --------------------------------------------------------------------------
# torch.save files
# --------------------------------------------------------------------------


def _history_buffer_getattr(obj, name):
    """Stands in for ``getattr`` while loading with ``weights_only``.

    A pickled ``HistoryBuffer`` refers to its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. Allowing the real ``getattr`` would
    let a file reach any attribute of any allowed class (and call it), so
    only those four look-ups are answered; anything else is refused.
    """
    if obj is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint')


def mmengine_checkpoint_globals():
    """What mmengine 0.10.7's CheckpointHook and runner pickle into a
    checkpoint (message hub log buffers and the numpy arrays, dtypes and
    scalars they hold), as entries of torch's safe-globals list.

    torch >= 2.6 loads with ``weights_only=True`` and refuses them
    (mmengine #1655); :func:`load_torch_file` allows exactly these, and
    ``import mogazoo`` adds them to torch's list for every ``torch.load``
    (:mod:`mogazoo.compat`).
    """
    dtype_classes = [
        getattr(np.dtypes, name) for name in dir(np.dtypes)
        if name.endswith('DType')
    ]
    # files written under numpy 1.x (mmcv 1.x checkpoints: mmseg 0.x stores
    # its best mIoU as a numpy scalar in meta.hook_msgs) name these
    # numpy.core.multiarray.*, which numpy 2 moved to numpy._core
    numpy1_names = [(multiarray._reconstruct,
                     'numpy.core.multiarray._reconstruct'),
                    (multiarray.scalar, 'numpy.core.multiarray.scalar')]
    return [
        HistoryBuffer, multiarray._reconstruct, multiarray.scalar, np.ndarray,
        np.dtype, (_history_buffer_getattr, 'builtins.getattr')
    ] + numpy1_names + dtype_classes


#: Globals :func:`load_torch_file` allows beyond torch's ``weights_only``
#: set and mmengine's checkpoint contents: official timm / DeiT checkpoints
#: pickle their training arguments.
EXTRA_SAFE_GLOBALS = (argparse.Namespace, )


def _safe_globals():
    """torch's ``safe_globals`` context with mmengine's checkpoint contents
    and :data:`EXTRA_SAFE_GLOBALS`. Only those not in torch's list yet are
    passed: leaving the context removes what it was given, also entries
    that were there before (``import mogazoo`` adds mmengine's)."""
    present = torch.serialization.get_safe_globals()
    wanted = mmengine_checkpoint_globals() + list(EXTRA_SAFE_GLOBALS)
    return torch.serialization.safe_globals(
        [g for g in wanted if g not in present])


def _unsafe_globals(path, names):
    """The globals of a file that ``weights_only`` refuses (under
    :func:`_safe_globals`). torch lists them for zip files; for a legacy
    file, every global outside torch, numpy, plain containers and
    :data:`EXTRA_SAFE_GLOBALS` is taken."""
    if zipfile.is_zipfile(path):
        with _safe_globals():
            return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    plain = ('torch', 'numpy', 'collections', 'builtins', '_codecs')
    extra = {f'{g.__module__}.{g.__qualname__}' for g in EXTRA_SAFE_GLOBALS}
    return [
        n for n in names if n.split('.')[0] not in plain and n not in extra
    ]


class _GuardedUnpickler(pickle.Unpickler):
    """The plain unpickler, except that dangerous globals raise
    :class:`UnsafeFileError` before they are imported."""

    def find_class(self, module, name):
        full = '.'.join(_normalize(module, name))
        if is_dangerous_global(full):
            raise UnsafeFileError(f'{full} is not allowed')
        return super().find_class(module, name)


def _guarded_pickle_module():
    """A stand-in for the :mod:`pickle` module (``torch.load``'s
    ``pickle_module``) that unpickles with :class:`_GuardedUnpickler`."""
    module = types.ModuleType('mogazoo_guarded_pickle')
    module.__dict__.update({
        k: v
        for k, v in vars(pickle).items() if not k.startswith('__')
    })
    module.Unpickler = _GuardedUnpickler
    module.load = lambda file, **kw: _GuardedUnpickler(file, **kw).load()
    module.loads = lambda data, **kw: _GuardedUnpickler(
        io.BytesIO(data), **kw).load()
    return module


def _refuse_dangerous(path, names):
    bad = dangerous_globals(names)
    if bad:
        raise UnsafeFileError(
            f'{path} is refused: it references {", ".join(bad)}, which can '
            'run code or touch the system when the file is loaded; no '
            'checkpoint needs them. The file was not loaded.')


def load_torch_file(path, map_location='cpu', trust_file=False):
    """Read a ``torch.save`` file without letting it run code.

    The file is read with ``weights_only=True``, which allows tensors,
    plain containers, mmengine's checkpoint contents
    (:func:`mmengine_checkpoint_globals`) and :data:`EXTRA_SAFE_GLOBALS`
    (``argparse.Namespace``). When that fails on another global, the globals
    of the file are listed without loading it: a file that references any
    :func:`dangerous_globals` (``os``, ``posix``, ``subprocess``,
    ``builtins.exec`` ...) is refused, naming them, whatever ``trust_file``
    says; any other unknown global is refused with a hint to pass
    ``--trust-file`` unless ``trust_file=True``, which then loads the file
    with a full unpickler that still refuses dangerous globals.

    Args:
        path (str): The file.
        map_location: As for :func:`torch.load`. Defaults to ``'cpu'``.
        trust_file (bool): Allow globals other than the safe ones (except
            the dangerous ones); only for files from a trusted source.
            Defaults to False.

    Returns:
        The loaded object.

    Raises:
        FileNotFoundError: The file is missing.
        UnsafeFileError: It references dangerous globals (a
            :class:`RuntimeError`; the message does not suggest
            ``--trust-file``).
        RuntimeError: It references other unknown globals (and
            ``trust_file`` is False), or is truncated or corrupt.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint not found: {path}')

    def corrupt(exc):
        return RuntimeError(
            f'Cannot read checkpoint {path} (truncated or corrupt?): '
            f'{type(exc).__name__}: {exc}')

    try:
        with _safe_globals():
            return torch.load(
                path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        failure = exc
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise corrupt(exc) from exc
    try:
        names = torch_file_globals(path)
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise corrupt(failure) from exc
    _refuse_dangerous(path, names)
    unknown = _unsafe_globals(path, names)
    if not unknown:  # refused for another reason than a global
        raise corrupt(failure) from failure
    if not trust_file:
        raise RuntimeError(
            f'{path} holds objects other than tensors and plain containers '
            f'({", ".join(unknown)}). If you trust its source, pass '
            '--trust-file.') from failure
    try:
        return torch.load(
            path,
            map_location=map_location,
            weights_only=False,
            pickle_module=_guarded_pickle_module())
    except UnsafeFileError as exc:
        raise UnsafeFileError(
            f'{path} is refused: {exc} (it can run code or touch the '
            'system when the file is loaded). The file was not loaded.'
        ) from exc
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise corrupt(exc) from exc


def check_checkpoint(path: str) -> str:
    """Raise a clear error if ``path`` is missing or not a readable torch
    checkpoint (a truncated or corrupt file, or another kind of file).

    Zip-format checkpoints (torch >= 1.6) are checked without unpickling
    them: the central directory, then the CRC-32 of every member, so damaged
    tensor bytes are caught even when the directory is intact (reading the
    file once, about a second per GB). Legacy files are loaded with
    ``weights_only=True``.

    Args:
        path (str): The checkpoint file.

    Returns:
        str: ``path``.

    Raises:
        FileNotFoundError: The file is missing.
        RuntimeError: It is corrupt (naming the first damaged member),
            truncated or not a torch checkpoint.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint not found: {path}')
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                if not any(n.endswith('data.pkl') for n in names):
                    raise RuntimeError(
                        f'Checkpoint {path} is a zip file but not a torch '
                        'checkpoint')
                bad = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise RuntimeError(f'Checkpoint {path} is corrupt: {exc}') from exc
        if bad is not None:
            raise RuntimeError(
                f'Checkpoint {path} is corrupt: its member {bad} fails the '
                'CRC check (damaged data; download or copy the file again)')
        return path
    try:
        torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise RuntimeError(
            f'Checkpoint {path} is not a readable torch checkpoint '
            f'(truncated or corrupt?): {type(exc).__name__}: {exc}') from exc
    return path
