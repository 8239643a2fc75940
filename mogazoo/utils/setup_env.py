"""Helpers shared by the command-line tools (train, test, analysis)."""
import os
import os.path as osp

import torch


def register_all_modules(init_default_scope: bool = False) -> None:
    """Import every mogazoo module so that it lands in mmpretrain's and
    mmengine's registries, allow-list mmengine checkpoints for
    ``torch.load`` (see :mod:`mogazoo.utils.compat`), route checkpoint
    loading through mogazoo's converters and cache
    (:mod:`mogazoo.converters.auto`, :mod:`mogazoo.hub`), and register
    mogazoo's model names with mmpretrain (:mod:`mogazoo.apis.model_hub`)."""
    import mogazoo.datasets  # noqa: F401
    import mogazoo.engine  # noqa: F401
    import mogazoo.models  # noqa: F401
    from mogazoo.converters.auto import install_checkpoint_loaders
    from .compat import allow_mmengine_checkpoints
    allow_mmengine_checkpoints()
    install_checkpoint_loaders()
    from mogazoo.apis.model_hub import install
    install()
    if init_default_scope:
        from mmpretrain.utils import register_all_modules as mmpretrain_reg
        mmpretrain_reg(init_default_scope=True)


def check_file_exists(path: str, what: str) -> str:
    """Raise ``FileNotFoundError`` naming ``what`` and ``path`` if missing."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    return path


def load_config(path: str, cfg_options=None):
    """Load an mmengine config, naming the file when it is missing or broken,
    and merge ``cfg_options`` (``--cfg-options``) into it, refusing a
    top-level key the config does not know (see
    :func:`mogazoo.utils.config_checks.check_option_keys`)."""
    from mmengine.config import Config
    check_file_exists(path, 'Config file')
    try:
        cfg = Config.fromfile(path)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file name
        raise RuntimeError(
            f'Could not load config {path}: {type(exc).__name__}: {exc}'
        ) from exc
    if cfg_options:
        from .config_checks import check_option_keys
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
    import torch.distributed as dist
    if launcher == 'pytorch' and not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))


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
    import zipfile
    check_file_exists(path, 'Checkpoint')
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
