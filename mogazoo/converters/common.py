"""Reading official checkpoints and writing mmengine ones."""
import os
import os.path as osp
import pickle
from collections import OrderedDict

import torch

STATE_DICT_KEYS = ('state_dict', 'model', 'module')


def load_official_state_dict(path, ema=False, trust_file=False):
    """Read the state dict of an official checkpoint as released.

    Accepts a dict holding ``state_dict`` (timm), ``state_dict_ema`` (picked
    with ``ema=True``), ``model`` (DeiT) or ``module``, or a bare state dict.
    ``module.`` prefixes (DataParallel) are stripped.

    The file is read with ``weights_only=True``: a file that also pickles
    other objects (e.g. an ``argparse.Namespace`` of training arguments) is
    refused unless ``trust_file=True``, which lets the file run code while it
    loads; use it only for files from a source you trust.

    Raises:
        FileNotFoundError: the file is missing.
        RuntimeError: the file is truncated, corrupt or not a checkpoint.
        KeyError: ``ema=True`` but the file holds no ``state_dict_ema``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint not found: {path}')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=not trust_file)
    except pickle.UnpicklingError as exc:
        raise RuntimeError(
            f'{path} holds objects other than tensors and plain containers '
            f'({exc}). If you trust its source, pass --trust-file.') from exc
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise RuntimeError(
            f'Cannot read checkpoint {path} (truncated or corrupt?): '
            f'{type(exc).__name__}: {exc}') from exc
    return select_state_dict(ckpt, ema, path)


def select_state_dict(ckpt, ema=False, source='checkpoint'):
    """The state dict of a loaded official checkpoint, as the converter
    tools pick it: ``state_dict_ema`` with ``ema=True``, else the first of
    ``state_dict`` / ``model`` / ``module`` that is a dict, else ``ckpt``
    itself (a bare state dict); ``module.`` prefixes stripped.

    Args:
        ckpt (object): What ``torch.load`` returned.
        ema (bool): Pick ``state_dict_ema``. Defaults to False.
        source (str): The file, for messages. Defaults to 'checkpoint'.

    Raises:
        RuntimeError: ``ckpt`` holds no state dict of tensors.
        KeyError: ``ema=True`` but there is no ``state_dict_ema``.
    """
    if not isinstance(ckpt, dict):
        raise RuntimeError(f'{source} holds a {type(ckpt).__name__}, '
                           'not a checkpoint dict')
    if ema:
        if 'state_dict_ema' not in ckpt:
            raise KeyError(f'--ema given but {source} has no state_dict_ema '
                           f'(keys: {sorted(ckpt)[:10]})')
        state_dict = ckpt['state_dict_ema']
    else:
        state_dict = next(
            (ckpt[k] for k in STATE_DICT_KEYS if isinstance(ckpt.get(k), dict)),
            ckpt)
    if not state_dict or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise RuntimeError(f'{source} does not hold a state dict of tensors '
                           f'(top-level keys: {sorted(ckpt)[:10]})')
    return OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state_dict.items())


def save_mmengine_checkpoint(state_dict, path, meta=None):
    """Write ``{'meta': ..., 'state_dict': ...}`` atomically (a temporary
    file renamed into place, so an interrupted run leaves no half file)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp'
    torch.save(dict(meta=meta or {}, state_dict=state_dict), tmp)
    os.replace(tmp, path)


def converter_main(name, convert, description, argv=None):
    """The command line every ``tools/model_converters/*_to_mogazoo.py``
    shares: ``SRC DST [--ema] [--trust-file]``.

    Reads SRC with :func:`load_official_state_dict`, maps it with
    ``convert(state_dict)`` and writes DST with
    :func:`save_mmengine_checkpoint`; bad input exits with a message that
    names the file or the keys at fault, and writes nothing.
    """
    import argparse
    import sys
    parser = argparse.ArgumentParser(prog=name, description=description)
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('dst', help='where to write the mogazoo checkpoint')
    parser.add_argument('--ema', action='store_true',
                        help='convert state_dict_ema instead of state_dict')
    parser.add_argument(
        '--trust-file', action='store_true',
        help='allow arbitrary pickled objects in SRC (only for trusted files)')
    args = parser.parse_args(argv)
    try:
        state_dict = load_official_state_dict(args.src, args.ema,
                                              args.trust_file)
        converted = convert(state_dict)
    except (FileNotFoundError, RuntimeError, KeyError, ValueError) as exc:
        sys.exit(f'{name}: error: {exc}')
    save_mmengine_checkpoint(
        converted, args.dst,
        meta=dict(source=osp.basename(args.src), ema=args.ema, converter=name))
    print(f'Converted {len(converted)} tensors from {args.src} to {args.dst}')
