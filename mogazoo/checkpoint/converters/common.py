"""Reading official checkpoints and writing mmengine ones."""
import argparse
import os
import os.path as osp
import secrets
import sys
from collections import OrderedDict

import torch

from mogazoo.utils.atomic_io import atomic_writer
from ..io import load_torch_file
from ..keys import strip_module

STATE_DICT_KEYS = ('state_dict', 'model', 'module')
#: The buffers of mmcv 1.x's / OpenMixup's ``EMAHook``: ``ema_`` + the
#: parameter's name with ``.`` as ``_``.
EMA_BUFFER_PREFIX = 'ema_'


def load_official_state_dict(path, ema=False, trust_file=False):
    """Read the state dict of an official checkpoint as released.

    Accepts a dict holding ``state_dict`` (timm), ``state_dict_ema`` (picked
    with ``ema=True``), ``model`` (DeiT) or ``module``, or a bare state dict.
    ``module.`` prefixes (DataParallel) are stripped.

    The file is read by :func:`mogazoo.checkpoint.io.load_torch_file`: tensors,
    plain containers and the ``argparse.Namespace`` of training arguments
    that timm and DeiT pickle load as they are; a file that references
    globals which can run code (``os``, ``posix``, ``builtins.exec`` ...) is
    refused, naming them, even with ``trust_file=True``; other unknown
    objects are refused unless ``trust_file=True``.

    Args:
        path (str): The official checkpoint.
        ema (bool): Return ``state_dict_ema`` (or, in an mmcv 1.x
            ``EMAHook`` checkpoint, the ``ema_*`` buffers' values, see
            :func:`select_state_dict`) instead of the weights.
            Defaults to False.
        trust_file (bool): Allow unknown (but not dangerous) pickled
            objects; only for files from a source you trust.
            Defaults to False.

    Returns:
        OrderedDict: The tensors, by their official names.

    Raises:
        FileNotFoundError: the file is missing.
        RuntimeError: the file is truncated, corrupt, not a checkpoint or
            refused (see above).
        KeyError: ``ema=True`` but the file holds no ``state_dict_ema``
            (nor ``ema_*`` buffers).
    """
    ckpt = load_torch_file(path, map_location='cpu', trust_file=trust_file)
    return select_state_dict(ckpt, ema, path)


def select_state_dict(ckpt, ema=False, source='checkpoint'):
    """The state dict of a loaded official checkpoint, as the converter
    tools pick it: ``state_dict_ema`` with ``ema=True``, else the first of
    ``state_dict`` / ``model`` / ``module`` that is a dict, else ``ckpt``
    itself (a bare state dict); ``module.`` prefixes stripped.

    A checkpoint of an mmcv 1.x ``EMAHook`` (OpenMixup's) has no
    ``state_dict_ema`` but one ``ema_<name with . as _>`` buffer per
    parameter inside its ``state_dict``: with ``ema=True`` those values
    replace the parameters they shadow and the ``ema_*`` keys go, as
    OpenMixup's ``tools/model_converters/publish_model.py --swap_ema``
    does; without, they are left for the converter (which drops them).

    Args:
        ckpt (object): What ``torch.load`` returned.
        ema (bool): Pick ``state_dict_ema`` (or swap in the ``ema_*``
            buffers). Defaults to False.
        source (str): The file, for messages. Defaults to 'checkpoint'.

    Raises:
        RuntimeError: ``ckpt`` holds no state dict of tensors.
        KeyError: ``ema=True`` but there is neither ``state_dict_ema`` nor
            an ``ema_*`` buffer.
    """
    if not isinstance(ckpt, dict):
        raise RuntimeError(f'{source} holds a {type(ckpt).__name__}, '
                           'not a checkpoint dict')
    swap_ema = False
    if ema and 'state_dict_ema' in ckpt:
        state_dict = ckpt['state_dict_ema']
    else:
        state_dict = next(
            (ckpt[k]
             for k in STATE_DICT_KEYS if isinstance(ckpt.get(k), dict)), ckpt)
        if ema:
            swap_ema = isinstance(state_dict, dict) and any(
                isinstance(k, str) and k.startswith(EMA_BUFFER_PREFIX)
                for k in state_dict)
            if not swap_ema:
                raise KeyError(
                    f'--ema given but {source} has no state_dict_ema '
                    f'(keys: {sorted(ckpt)[:10]}) nor EMAHook buffers '
                    f'({EMA_BUFFER_PREFIX}*)')
    if not state_dict or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise RuntimeError(f'{source} does not hold a state dict of tensors '
                           f'(top-level keys: {sorted(ckpt)[:10]})')
    state_dict = strip_module(state_dict)
    if swap_ema:
        state_dict = swap_ema_buffers(state_dict)
    return state_dict


def swap_ema_buffers(state_dict):
    """The weights of an mmcv 1.x ``EMAHook`` checkpoint with its EMA values:
    each key ``k`` that has an ``ema_<k with . as _>`` buffer takes that
    buffer's value, other keys (BN statistics ...) stay, and the ``ema_*``
    keys go (OpenMixup's ``publish_model.py --swap_ema``)."""
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(EMA_BUFFER_PREFIX):
            continue
        ema_key = EMA_BUFFER_PREFIX + key.replace('.', '_')
        out[key] = state_dict.get(ema_key, value)
    return out


def _same_file(a, b):
    """Whether paths ``a`` and ``b`` name the same file (also through a
    link); False when either does not exist."""
    if osp.realpath(a) == osp.realpath(b):
        return True
    try:
        return osp.samefile(a, b)
    except OSError:
        return False


def check_output_path(path, src=None):
    """Refuse an output path that would overwrite the input or a folder.

    Args:
        path (str): Where a converted checkpoint is to be written.
        src (str, optional): The file it is converted from.
            Defaults to None.

    Raises:
        IsADirectoryError: ``path`` is an existing folder.
        ValueError: ``path`` is ``src`` (the same path or the same file).
    """
    if osp.isdir(path):
        raise IsADirectoryError(
            f'Output {path} is a folder; give the path of the file to '
            'write (e.g. a .pth file inside it)')
    if src is not None and _same_file(src, path):
        raise ValueError(f'Output {path} is the input file {src}; writing '
                         'it would destroy the original, give another path')


def save_mmengine_checkpoint(state_dict, path, meta=None):
    """Write ``{'meta': ..., 'state_dict': ...}`` atomically.

    The checkpoint is written to a temporary file in the folder of
    ``path``, flushed to disk (``fsync``) and renamed into place, so an
    interrupted run never leaves a half file at ``path``; on any failure
    the temporary file is removed.

    Args:
        state_dict (dict): The tensors.
        path (str): The checkpoint to write (its folder is created).
        meta (dict, optional): Stored as ``meta``. Defaults to None.

    Raises:
        IsADirectoryError: ``path`` is an existing folder.
        OSError: Writing failed (nothing is left behind).
    """
    check_output_path(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # a fresh hidden name: two converters writing one DST do not collide
    tmp = osp.join(folder, f'.{osp.basename(path)}.{secrets.token_hex(4)}.tmp')
    with atomic_writer(path, tmp) as f:
        torch.save(dict(meta=meta or {}, state_dict=state_dict), f)


def converter_main(name, convert, description, argv=None):
    """The command line every ``tools/model_converters/*_to_mogazoo.py``
    shares: ``SRC DST [--ema] [--trust-file]``.

    Reads SRC with :func:`load_official_state_dict`, maps it with
    ``convert(state_dict)`` and writes DST with
    :func:`save_mmengine_checkpoint`; bad input (including a DST that is
    SRC itself or a folder) exits with a message that names the file or the
    keys at fault, and writes nothing.

    Args:
        name (str): The program name, for messages.
        convert (Callable[[dict], dict]): Official -> mogazoo state dict.
        description (str): The ``--help`` description.
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.
    """
    parser = argparse.ArgumentParser(prog=name, description=description)
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('dst', help='where to write the mogazoo checkpoint')
    parser.add_argument(
        '--ema',
        action='store_true',
        help='convert state_dict_ema instead of state_dict (in an mmcv 1.x '
        "EMAHook checkpoint, e.g. OpenMixup's: the ema_* buffers in place "
        'of the parameters)')
    parser.add_argument(
        '--trust-file',
        action='store_true',
        help='allow unknown pickled objects in SRC (only for trusted files; '
        'files that reference os, subprocess, exec and the like are refused '
        'anyway)')
    args = parser.parse_args(argv)
    try:
        check_output_path(args.dst, args.src)
        state_dict = load_official_state_dict(args.src, args.ema,
                                              args.trust_file)
        converted = convert(state_dict)
        save_mmengine_checkpoint(
            converted,
            args.dst,
            meta=dict(
                source=osp.basename(args.src), ema=args.ema, converter=name))
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        sys.exit(f'{name}: error: {exc}')
    print(f'Converted {len(converted)} tensors from {args.src} to {args.dst}')
