"""Config mistakes caught before the first iteration.

Each of these used to give a run that looked fine and was not: a mistyped
``--cfg-options`` key was merged as a new, unused key; ``--resume`` in an
empty work dir trained from scratch; a shortened ``max_epochs`` left the
learning rate mid-schedule; ``--amp`` without a GPU failed deep in torch.
"""
import difflib
import inspect
import logging
import os.path as osp
import sys

import torch
from mmengine.logging import print_log
from mmengine.runner import Runner, find_latest_checkpoint

#: Top-level keys a config may set without having them already: the
#: arguments of mmengine's Runner and what mmengine / mogazoo read beside.
EXTRA_TOP_LEVEL_KEYS = frozenset({
    'runner_type',
    'custom_imports',
    'model_wrapper_cfg',
    'find_unused_parameters',
    'compile',
    'strategy',
    'train_pipeline',
    'test_pipeline',
    'val_pipeline',
    'dist_params',
    'filename',
    'text',
    'pretty_text',
    'vis_backends',
    'tta_model',
    'tta_pipeline',
})


def _runner_keys():
    return {
        name
        for name in inspect.signature(Runner.__init__).parameters
        if name != 'self'
    }


def check_option_keys(cfg, options, source='--cfg-options') -> None:
    """Refuse option keys whose top level the config does not know.

    mmengine merges ``trian_cfg.max_epochs=1`` as a new key that nothing
    reads, and the run trains the configured schedule. A top-level name
    must be a key of the config or of mmengine's Runner.

    Args:
        cfg (Config): The config before the options are merged.
        options (dict): ``{'a.b.c': value}`` or nested dicts.
        source (str): Where the options come from, for the message.
            Defaults to '--cfg-options'.

    Raises:
        KeyError: An unknown top-level key, with close matches.
    """
    known = set(cfg.keys()) | _runner_keys() | EXTRA_TOP_LEVEL_KEYS
    for key in options or {}:
        top = str(key).split('.', 1)[0]
        if top in known:
            continue
        close = difflib.get_close_matches(top, sorted(known), n=3, cutoff=0.6)
        hint = f'; did you mean {" or ".join(map(repr, close))}?' \
            if close else ''
        raise KeyError(
            f'Unknown top-level config key {top!r} in {source} ({key}): '
            f'the config has no such key and mmengine would ignore it'
            f'{hint}')


def check_resume(work_dir: str, allow_fresh: bool = False) -> str:
    """The checkpoint ``--resume`` would pick in ``work_dir``.

    Args:
        work_dir (str): The run's work directory.
        allow_fresh (bool): Return None instead of raising when there is
            nothing to resume (``tools/train.py --auto-resume``).
            Defaults to False.

    Returns:
        str | None: The checkpoint (``last_checkpoint``'s target, or the
        newest ``*.pth``), None with ``allow_fresh`` when there is none.

    Raises:
        FileNotFoundError: Nothing to resume, or ``last_checkpoint`` names
            a file that is gone.
    """
    latest = find_latest_checkpoint(work_dir) if osp.isdir(work_dir) \
        else None
    if latest is not None and not osp.isfile(latest):
        raise FileNotFoundError(
            f'{osp.join(work_dir, "last_checkpoint")} names {latest}, which '
            'does not exist: pass --resume PATH with the checkpoint to '
            'resume from')
    if latest is None and not allow_fresh:
        where = 'does not exist' if not osp.isdir(work_dir) else \
            'holds no checkpoint (no last_checkpoint, no *.pth)'
        raise FileNotFoundError(
            f'--resume: nothing to resume, the work dir {work_dir} '
            f'{where}. Check --work-dir, pass --resume PATH, or use '
            '--auto-resume to start fresh when there is no checkpoint')
    return latest


def _scheduler_list(cfg):
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    return list(schedulers)


def check_schedule(cfg) -> list:
    """Warn when a parameter scheduler ends after the training does.

    With ``train_cfg.max_epochs`` (or ``max_iters``) cut short, e.g. from
    the command line, a cosine schedule stops halfway and the learning rate
    never decays: the run looks normal and ends worse.

    Args:
        cfg (Config): The config.

    Returns:
        list[str]: The warnings (also logged).
    """
    train_cfg = cfg.get('train_cfg') or {}
    by_epoch = 'max_epochs' in train_cfg
    length = train_cfg.get('max_epochs') if by_epoch else \
        train_cfg.get('max_iters')
    if not length:
        return []
    unit = 'epoch' if by_epoch else 'iteration'
    warnings = []
    for i, sched in enumerate(_scheduler_list(cfg)):
        end = sched.get('end')
        if end is None or end >= sys.maxsize // 2:
            continue  # no explicit end: mmengine ends it with the run
        if sched.get('by_epoch', True) != by_epoch:
            continue  # counted in other units: cannot compare
        if end > length:
            key = 'max_epochs' if by_epoch else 'max_iters'
            warnings.append(
                f'param_scheduler[{i}] ({sched.get("type")}) ends at {unit} '
                f'{end} but train_cfg.{key} is {length}: the schedule will '
                'not finish (e.g. the learning rate never reaches its final '
                'value); shorten the schedulers too (their end / T_max)')
    for text in warnings:
        print_log(text, logger='current', level=logging.WARNING)
    return warnings


def check_amp_device() -> None:
    """Raise when ``--amp`` is asked for on a machine without CUDA."""
    if not torch.cuda.is_available():
        raise RuntimeError(
            '--amp needs a CUDA GPU (fp16 autocast with loss scaling) and '
            'torch.cuda.is_available() is False on this machine; drop --amp')
