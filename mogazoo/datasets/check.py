"""Find images that do not decode before a run starts.

:func:`find_corrupt_images` decodes a list of files as
:class:`LoadImageFromFileSafe` does; :func:`check_dataset_images` does it
for the datasets of a config (``tools/train.py --check``), and
``tools/dataset_converters/split_dataset.py --check`` for a folder.
"""
import copy
import os
from multiprocessing.pool import ThreadPool
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS

from .transforms import CorruptImageError, LoadImageFromFileSafe

#: Arguments of ``mmcv.transforms.LoadImageFromFile`` that change how a file
#: is read or decoded; a loader step's values for them are kept.
LOADER_ARGS = ('to_float32', 'color_type', 'imdecode_backend',
               'file_client_args', 'backend_args')


class CorruptDatasetError(ValueError):
    """Images of a dataset that do not load, listed in the message.

    Attributes:
        corrupt (list[tuple[str, str]]): ``(path, reason)`` of every one.
    """

    def __init__(self, message: str, corrupt: List[Tuple[str, str]]):
        super().__init__(message)
        self.corrupt = corrupt


def find_corrupt_images(
        paths: Sequence[str],
        jobs: int = 4,
        loader: Optional[LoadImageFromFileSafe] = None
) -> List[Tuple[str, str]]:
    """The files of ``paths`` that do not load, each with the reason.

    Args:
        paths (Sequence[str]): Image files (or backend URIs the loader
            reads).
        jobs (int): Threads that read and decode (OpenCV and Pillow release
            the GIL). Defaults to 4.
        loader (LoadImageFromFileSafe, optional): The loader to use, e.g.
            one with the ``color_type`` or ``imdecode_backend`` of a
            pipeline; it must raise (``skip_corrupt=False``). Defaults to
            ``LoadImageFromFileSafe()``.

    Returns:
        list[tuple[str, str]]: ``(path, message)`` in the order of
        ``paths``; the message names the path and the error.
    """
    load = loader or LoadImageFromFileSafe()
    if load.skip_corrupt:
        raise ValueError('find_corrupt_images needs a loader that raises '
                         '(skip_corrupt=False)')

    def check(path):
        try:
            load(dict(img_path=path))
        except CorruptImageError as exc:
            return path, str(exc)
        return None

    with ThreadPool(max(int(jobs), 1)) as pool:
        return [r for r in pool.map(check, paths, chunksize=64) if r]


def pipeline_loader(pipeline: Optional[Sequence]) -> LoadImageFromFileSafe:
    """A raising :class:`LoadImageFromFileSafe` that reads files as the
    first ``LoadImageFromFile*`` step of ``pipeline`` does (its colour
    type, decoding backend and file backend), or a default one."""
    for step in pipeline or ():
        kind = step.get('type') if isinstance(step, dict) else type(step)
        name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
        if name.split('.')[-1].startswith('LoadImageFromFile'):
            args = step if isinstance(step, dict) else vars(step)
            return LoadImageFromFileSafe(
                **{k: args[k]
                   for k in LOADER_ARGS if args.get(k) is not None})
    return LoadImageFromFileSafe()


def dataset_image_paths(dataset) -> List[str]:
    """The ``img_path`` of every sample of a built dataset (mmengine
    ``BaseDataset`` or a dataset wrapper), without repeats, in order.
    Samples held in memory (no ``img_path``) are not listed."""
    paths, seen = [], set()
    for i in range(len(dataset)):
        path = dataset.get_data_info(i).get('img_path')
        if path is not None and path not in seen:
            seen.add(path)
            paths.append(path)
    return paths


def check_dataset_images(
        cfg,
        loaders: Sequence[str] = ('train_dataloader', 'val_dataloader'),
        jobs: Optional[int] = None,
        limit: int = 5,
        log: Optional[Callable[[str], None]] = print) -> Dict[str, int]:
    """Decode every image of the datasets of a config's dataloaders.

    Each dataset is built from the config (in its ``default_scope``) and
    every image it lists is read with the loader step of its own pipeline
    (see :func:`pipeline_loader`), so a file that would stop (or, with
    ``skip_corrupt=True``, be skipped in) the run is found before it starts.

    Args:
        cfg (Config): The config.
        loaders (Sequence[str]): Dataloaders to check; missing or ``None``
            ones are passed over. Defaults to the train and val ones.
        jobs (int, optional): Decoding threads. Defaults to the number of
            CPUs, at most 8.
        limit (int): How many bad files the error lists. Defaults to 5.
        log (callable, optional): Where progress lines go. Defaults to
            ``print``.

    Returns:
        dict[str, int]: The number of images checked per dataloader.

    Raises:
        CorruptDatasetError: Some images do not load; the message gives
            their number per dataloader and the first ``limit`` of them
            with the reason.
    """
    log = log or (lambda line: None)
    jobs = jobs or min(os.cpu_count() or 1, 8)
    counts, corrupt, per_loader = {}, [], []
    for name in loaders:
        ds_cfg = (cfg.get(name) or {}).get('dataset')
        if not ds_cfg:
            continue
        inner = ds_cfg
        while inner.get('pipeline') is None and isinstance(
                inner.get('dataset'), dict):  # dataset wrappers
            inner = inner['dataset']
        loader = pipeline_loader(inner.get('pipeline'))
        with DefaultScope.overwrite_default_scope(
                cfg.get('default_scope', 'mmpretrain')):
            dataset = DATASETS.build(copy.deepcopy(ds_cfg))
        paths = dataset_image_paths(dataset)
        log(f'--check: decoding the {len(paths)} images of {name} '
            f'({jobs} threads)')
        bad = find_corrupt_images(paths, jobs, loader)
        counts[name] = len(paths)
        corrupt += bad
        if bad:
            per_loader.append(f'{name}: {len(bad)} of {len(paths)}')
    if corrupt:
        lines = [f'  {reason}' for _, reason in corrupt[:limit]]
        if len(corrupt) > limit:
            lines.append(f'  ... and {len(corrupt) - limit} more')
        raise CorruptDatasetError(
            f'--check: {len(corrupt)} image(s) do not load '
            f'({", ".join(per_loader)}); fix or remove them (for an image '
            'folder: split_dataset.py --check leaves them out):\n' +
            '\n'.join(lines), corrupt)
    log(f'--check: all {sum(counts.values())} images of '
        f'{", ".join(counts) or "no dataloader"} load')
    return counts
