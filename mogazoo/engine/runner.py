"""Config and runner set-up of ``tools/train.py`` and ``tools/test.py``.

The tools are thin command lines over these functions; tests and your own
scripts build a runner exactly as the tools do with :func:`build_runner`.
"""
import errno
import fcntl
import os
import os.path as osp
import sys
from contextlib import contextmanager

import torch
from mmengine.config import DictAction
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mogazoo.checkpoint import (CheckpointMismatchError, DownloadError,
                                UnsafeFileError, check_checkpoint)
from mogazoo.datasets import CorruptDatasetError, CorruptImageError
from mogazoo.engine.hooks.compile_report_hook import CompileReportHook
from mogazoo.models.utils.compile import compile_model
from mogazoo.utils import configure_device, load_config


def parse_common_args(parser, argv=None):
    """Add the arguments every runner tool takes, parse ``argv`` (None:
    ``sys.argv``), and export ``LOCAL_RANK`` for launchers that pass
    ``--local-rank``."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value (e.g. '
        'train_cfg.max_epochs=10)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile the model (the config\'s compile option, '
        'see mogazoo.models.utils.compile)')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the traceback of an error the tool would report in one '
        'line')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


#: What a tool reports in one line while it sets up (the messages name the
#: file, key or option at fault).
SETUP_ERRORS = (FileNotFoundError, KeyError, RuntimeError, ValueError)
#: What a tool reports in one line once the run has started: refused,
#: missing or ill-fitting checkpoints and data, and a diverged training. Any
#: other exception keeps its traceback (a bug, not a bad input).
RUN_ERRORS = (UnsafeFileError, CheckpointMismatchError, DownloadError,
              FileNotFoundError, CorruptDatasetError, CorruptImageError)

#: ``OSError`` numbers of a disk that refuses writes: full, over quota,
#: read-only, not permitted. Reported in one line like :data:`RUN_ERRORS`.
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
               errno.EPERM)

#: How torch's DataLoader begins the ``RuntimeError`` it raises when one of
#: its worker processes dies (killed, out of memory, segfault in a decoder).
WORKER_DIED = 'DataLoader worker'


def _worker_died(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and str(exc).startswith(WORKER_DIED)


@contextmanager
def one_line_errors(tool: str, errors, debug: bool = False):
    """Turn ``errors`` raised inside the block, a disk that refuses a write
    (:data:`DISK_ERRNOS`) and a dead DataLoader worker into
    ``sys.exit('<tool>: error: <message>')``: one line and exit code 1, no
    traceback (with ``debug``, the exception is raised as it is)."""
    try:
        yield
    except errors as exc:
        if debug:
            raise
        sys.exit(f'{tool}: error: {exc}')
    except RuntimeError as exc:
        if debug or not _worker_died(exc):
            raise
        sys.exit(f'{tool}: error: {exc} (a data-loading worker died, most '
                 'often killed for memory: lower the dataloader\'s '
                 'num_workers or batch_size; the checkpoints written before '
                 'it are complete, --resume continues from the newest)')
    except OSError as exc:
        if debug or exc.errno not in DISK_ERRNOS:
            raise
        sys.exit(f'{tool}: error: {errno.errorcode[exc.errno]}: {exc} (the '
                 'checkpoints written before it are complete; resume from '
                 'them with --resume once the disk takes writes)')


#: The lock file of a work dir (see :func:`lock_work_dir`).
LOCK_FILE = '.mogazoo-run.lock'
_LOCKS = {}


def lock_work_dir(work_dir: str) -> None:
    """Refuse a second run in ``work_dir`` while one is writing there.

    Two runs in one work dir would interleave their checkpoints and
    ``last_checkpoint``, and ``--resume`` would follow the other run's file.
    The first run takes an exclusive ``flock`` on ``<work_dir>/``
    :data:`LOCK_FILE` and holds it until the process ends (the kernel
    releases it when the process dies, ``kill -9`` included, so a crashed
    run never leaves a stale lock). Only the global rank 0 of a
    distributed run takes it.

    Raises:
        RuntimeError: Another process holds the lock; the message names
            its pid and the folder.
    """
    if int(os.environ.get('RANK', '0')) != 0:
        return
    work_dir = osp.abspath(work_dir)
    if work_dir in _LOCKS:
        return
    os.makedirs(work_dir, exist_ok=True)
    fd = os.open(osp.join(work_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors='replace').strip() or '?'
        os.close(fd)
        raise RuntimeError(
            f'Another run (pid {holder}) is writing to the work dir '
            f'{work_dir}: wait for it to end, or give this run another '
            '--work-dir') from None
    os.ftruncate(fd, 0)
    os.write(fd, f'{os.getpid()}\n'.encode())
    _LOCKS[work_dir] = fd


def prepare_cfg(config, args, mode):
    """Load ``config`` and apply what every tool does the same way: work
    dir (CLI > config > ./work_dirs/<config name>), launcher, the device,
    ``--cfg-options``, and a check of the data folders the run reads
    (``mode``: ``'train'`` checks the train and val dataloaders, anything
    else the test dataloader)."""
    cfg = load_config(config, args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    cfg.launcher = args.launcher
    if getattr(args, 'compile', False):
        cfg.compile = True
    configure_device(cfg, args.launcher)
    loaders = ('train_dataloader', 'val_dataloader') if mode == 'train' \
        else ('test_dataloader', )
    for name in loaders:
        check_data_root(cfg, name)
    return cfg


def check_data_root(cfg, loader):
    """Fail early, naming the folder, when the local ``data_root`` of a
    dataloader's dataset does not exist (instead of a traceback from deep
    inside the dataset once the run has started). A relative one is named
    with the working directory it was resolved against."""
    dataset = (cfg.get(loader) or {}).get('dataset') or {}
    root = dataset.get('data_root')
    if root and '://' not in root and not osp.isdir(root):
        where = ''
        if not osp.isabs(root):
            where = (f' (relative to the working directory {os.getcwd()}: '
                     f'resolved to {osp.abspath(root)}; run from the folder '
                     'it is relative to or give an absolute data_root)')
        hint = ''
        if 'digits' in root:
            hint = ('; run python tools/dataset_converters/prepare_digits.py'
                    f' --out {root}')
        raise FileNotFoundError(
            f'Data folder of {loader} not found: {root}{where}{hint}')


#: Hooks every run of the tools gets, also with mmdet / mmseg runtimes that
#: do not name them: ``default_hooks`` key -> type. Options given in the
#: config (``default_hooks.finite_check.enable=False``) are kept.
SAFETY_HOOKS = dict(
    checkpoint_fit='mmpretrain.CheckpointFitHook',
    finite_check='mmpretrain.FiniteCheckHook')


def add_safety_hooks(cfg):
    """Give ``cfg`` the :data:`SAFETY_HOOKS` and an atomically writing
    checkpoint hook (``AtomicCheckpointHook`` for a plain
    ``type='CheckpointHook'``, same options; ``'mmengine.CheckpointHook'``
    keeps mmengine's), an eta without the warm-up iteration
    (``WarmupIterTimerHook`` for a plain ``type='IterTimerHook'``); drop
    ``default_hooks`` entries set to None that mmengine would reject (it
    accepts None only for its own)."""
    hooks = cfg.get('default_hooks') or {}
    for name, hook_type in SAFETY_HOOKS.items():
        if name in hooks and hooks[name] is None:
            continue
        hooks[name] = dict(dict(type=hook_type), **(hooks.get(name) or {}))
    checkpoint = hooks.get('checkpoint')
    if isinstance(checkpoint, dict) and \
            checkpoint.get('type') == 'CheckpointHook':
        checkpoint['type'] = 'mmpretrain.AtomicCheckpointHook'
    timer = hooks.get('timer')
    if isinstance(timer, dict) and timer.get('type') == 'IterTimerHook':
        timer['type'] = 'mmpretrain.WarmupIterTimerHook'
    builtin = ('runtime_info', 'timer', 'sampler_seed', 'logger',
               'param_scheduler', 'checkpoint')
    cfg.default_hooks = {
        k: v
        for k, v in hooks.items() if v is not None or k in builtin
    }


def add_throughput_hook(cfg):
    """Give ``cfg`` a ``ThroughputHook`` (images/s and peak memory logged
    with the loss) unless it has one: mogazoo's runtimes have it, mmdet's
    and mmseg's (which det/seg configs inherit) do not."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(
            str(h.get('type', '')).split('.')[-1] == 'ThroughputHook'
            for h in hooks if isinstance(h, dict)):
        hooks.append(dict(type='ThroughputHook'))
    cfg.custom_hooks = hooks


def build_runner(cfg):
    """Build the runner the config asks for (``runner_type``) or mmengine's
    default ``Runner``, checking a checkpoint to load first and adding the
    safety hooks (:func:`add_safety_hooks`) and a ``ThroughputHook``
    (:func:`add_throughput_hook`). Single-process CPU runs get
    plain BatchNorm in place of SyncBN. With ``cfg.compile`` (``--compile``,
    True or ``torch.compile`` keyword arguments) the model is compiled by
    :func:`compile_model` for training and evaluation alike."""
    if cfg.get('load_from'):
        check_checkpoint(cfg.load_from)
    add_safety_hooks(cfg)
    add_throughput_hook(cfg)
    # mmengine's compile option compiles the whole train step, optimizer
    # step included, which dynamo fails on with mmengine's optimizer
    # wrappers; mogazoo compiles the model's compute instead (below)
    compile_cfg = cfg.get('compile')
    if compile_cfg is not None:
        cfg.compile = None
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
        Runner.from_cfg(cfg)
    if not torch.cuda.is_available() and cfg.get('launcher') == 'none':
        # SyncBN (in many mmdet/mmseg heads) needs CUDA and a process group
        runner.model = revert_sync_batchnorm(runner.model)
    if compile_cfg:
        compile_model(runner.model, compile_cfg)
        runner.logger.info(f'torch.compile({compile_cfg}) of the model: '
                           'the first iterations compile it')
        # one line: the warm-up, and after how many iterations it pays off
        runner.register_hook(CompileReportHook())
    return runner
