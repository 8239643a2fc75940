"""The one way mogazoo loads weights.

Every path that loads a checkpoint ends in :func:`load_checkpoint`:
``load_from`` and ``--resume`` (mmengine's loaders, see :mod:`mogazoo.compat`),
``init_cfg=dict(type='Pretrained')`` (:mod:`mogazoo.models.utils.pretrained`),
``tools/test.py``, :func:`mogazoo.get_model` / ``pretrained=``, the web
demo, the converter tools (:func:`~.converters.common.load_official_state_dict`
reads with the same :func:`~.io.load_torch_file`) and export. It

1. reads a local file safely (:func:`~.io.load_torch_file`: no pickled code
   runs, refused files name what they reference), or an http(s) URL through
   the download cache (:func:`load_url`);
2. converts an official MogaNet / FasterViT / DGMN2 layout in memory
   (:func:`~.converters.official.convert_if_official`).

:func:`load_state_dict` then fits the result to a model under one of the
rules of :func:`~.fit.check_fit` and loads it.
"""
import os.path as osp
from collections import OrderedDict

import torch
from mmengine.logging import print_log

from mogazoo.utils.atomic_io import atomic_writer
from mogazoo.version import __version__
from .converters.official import convert_if_official
from .fit import CheckpointMismatchError, check_fit
from .hub import (DownloadError, converted_path, download, recorded_sha256,
                  sha256_file)
from .io import load_torch_file
from .keys import strip_module

URL_SCHEMES = ('http://', 'https://')


def load_url(url: str, map_location=None, progress: bool = True):
    """A checkpoint from an http(s) URL, through the cache: downloaded once
    (:func:`~.hub.download`), an official layout converted once and the
    converted file kept beside it (``*.mogazoo.pth``, keyed by mogazoo's
    version and the source's sha256).

    Returns:
        dict: The checkpoint (converted when the file is official).

    Raises:
        DownloadError: No network, a failed hash check, or a cached file
            that changed since it was downloaded.
    """
    path = download(url, progress=progress)
    recorded = recorded_sha256(url, path)
    converted = converted_path(path)
    if osp.isfile(converted):
        ckpt = load_torch_file(converted, map_location=map_location)
        meta = ckpt.get('meta') or {}
        if meta.get('mogazoo_version') == __version__ and \
                meta.get('source_sha256') == recorded:
            return ckpt
    digest = sha256_file(path)
    if digest != recorded:
        raise DownloadError(
            f'{path} changed since it was downloaded from {url} (sha256 '
            f'{digest}, recorded {recorded}); delete it to download again')
    ckpt = load_torch_file(path, map_location=map_location)
    out = convert_if_official(ckpt, url)
    if out is not ckpt:
        out['meta'].update(
            mogazoo_version=__version__, source_sha256=digest, source_url=url)
        with atomic_writer(converted) as tmp:
            torch.save(out, tmp)
        print_log(
            f'Cached the converted checkpoint at {converted}',
            logger='current')
    return out


def load_checkpoint(source: str, map_location='cpu', trust_file=False):
    """Read a checkpoint file or URL, safely, official layouts converted.

    Args:
        source (str): A local path (``~`` expanded) or an http(s) URL.
        map_location: As for :func:`torch.load`. Defaults to 'cpu'.
        trust_file (bool): See :func:`~.io.load_torch_file`. Defaults to
            False.

    Returns:
        object: The checkpoint (``{'meta', 'state_dict'}`` for a converted
        official one).

    Raises:
        FileNotFoundError: A local file that does not exist.
        UnsafeFileError: A file that references code (``posix.system`` ...).
        DownloadError: A URL that cannot be fetched or fails its check.
        RuntimeError: A corrupt file, or an official one that cannot be
            converted (the message names the converter command).
    """
    source = str(source)
    if source.startswith(URL_SCHEMES):
        return load_url(source, map_location=map_location)
    path = osp.expanduser(source)
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint not found: {path}')
    ckpt = load_torch_file(
        path, map_location=map_location, trust_file=trust_file)
    return convert_if_official(ckpt, path)


def checkpoint_state_dict(checkpoint) -> 'OrderedDict':
    """The weights of a loaded checkpoint (its ``state_dict``, or the
    checkpoint itself when it is a bare state dict), without ``module.``
    prefixes."""
    if not isinstance(checkpoint, dict):
        return OrderedDict()
    return strip_module(checkpoint.get('state_dict', checkpoint))


def select_prefix(state_dict, prefix: str, source: str, target: str):
    """The keys of ``state_dict`` under ``prefix``, prefix stripped.

    Raises:
        CheckpointMismatchError: No key is under it.
    """
    prefix = prefix if prefix.endswith('.') else prefix + '.'
    out = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                      if k.startswith(prefix))
    if not out:
        raise CheckpointMismatchError(
            f'Checkpoint {source} has no key under the prefix {prefix!r} '
            f'given for {target}')
    return out


def load_state_dict(model: torch.nn.Module,
                    source: str,
                    rule: str = 'strict',
                    target: str = None,
                    prefix: str = None,
                    map_location='cpu') -> dict:
    """Load a checkpoint into ``model`` through :func:`load_checkpoint`,
    checked under ``rule`` (see :func:`~.fit.check_fit`).

    Args:
        model (nn.Module): The model (or backbone) to load.
        source (str): Path or URL, official or converted.
        rule (str): ``'strict'``, ``'finetune'`` or ``'backbone'``.
            Defaults to 'strict'.
        target (str, optional): The model, for messages. Defaults to its
            class name.
        prefix (str, optional): Load only the keys under this prefix
            (e.g. ``'backbone.'``), prefix stripped. With the
            ``'backbone'`` rule and no prefix, a classifier checkpoint
            (``backbone.*``, no key of the model) is read as if
            ``prefix='backbone.'`` had been given. Defaults to None.
        map_location: As for :func:`torch.load`. Defaults to 'cpu'.

    Returns:
        dict: The checkpoint's ``meta`` (``{}`` when it has none).

    Raises:
        CheckpointMismatchError: The checkpoint does not fit; the message
            sums up how.
    """
    target = target or f'the {type(model).__name__}'
    checkpoint = load_checkpoint(source, map_location=map_location)
    state = checkpoint_state_dict(checkpoint)
    own = model.state_dict()
    if prefix is None and rule == 'backbone' and not any(
            k in own
            for k in state) and any(k.startswith('backbone.') for k in state):
        prefix = 'backbone.'
    if prefix:
        state = select_prefix(state, prefix, source, target)
    fitted = check_fit(own, state, rule, str(source), target)
    model.load_state_dict(fitted, strict=rule == 'strict')
    if rule == 'backbone':
        loaded = sum(k in own for k in fitted)
        print_log(
            f'{type(model).__name__}: {loaded} of {len(own)} tensors loaded '
            f'from {source}' + (f' (prefix {prefix!r})' if prefix else ''),
            logger='current')
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    return meta or {}
