"""Config loading and device set-up shared by the tools and the APIs."""
import os
import os.path as osp

import torch
import torch.distributed as dist
from mmengine.config import Config

from .config_checks import check_option_keys


def check_file_exists(path: str, what: str) -> str:
    """Raise ``FileNotFoundError`` naming ``what`` and ``path`` if missing."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    return path


def load_config(path, cfg_options=None):
    """Load an mmengine config, naming the file when it is missing or broken,
    and merge ``cfg_options`` (``--cfg-options``) into it, refusing a
    top-level key the config does not know (see
    :func:`mogazoo.utils.config_checks.check_option_keys`).

    Args:
        path (str | Config): The config file, or a loaded config (returned
            with the options merged).
        cfg_options (dict, optional): Options to merge. Defaults to None.
    """
    if isinstance(path, Config):
        cfg = path
    else:
        check_file_exists(path, 'Config file')
        try:
            cfg = Config.fromfile(path)
        except Exception as exc:  # noqa: BLE001 - re-raised with the file
            raise RuntimeError(
                f'Could not load config {path}: {type(exc).__name__}: {exc}'
            ) from exc
    if cfg_options:
        check_option_keys(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    return cfg


def configure_device(cfg, launcher: str = 'none') -> None:
    """Make a config run on the machine at hand.

    Without CUDA, distributed runs use the gloo backend and DDP wraps a CPU
    module (no ``device_ids``), so ``tools/dist_train.sh CONFIG 2`` works on
    a CPU-only machine. mmengine's own ``init_dist`` calls
    ``torch.cuda.set_device``, so the CPU process group is created here.
    """
    if torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    if launcher == 'none':
        return
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            device_ids=None,  # a CPU module: mmengine would pass LOCAL_RANK
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if launcher == 'pytorch' and not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
