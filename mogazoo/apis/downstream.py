"""Detection and segmentation inference for one image, drawn with mmdet's
and mmseg's own visualizers (``demo/downstream_demo.py``, the web demo).

The config decides the task through its ``default_scope`` (``mmdet`` or
``mmseg``, set by their ``default_runtime``). Checkpoints load through
mmengine, so an official MogaNet mmdet 2.x / mmseg 0.x checkpoint is
converted in memory as everywhere in mogazoo (:mod:`mogazoo.compat`,
:mod:`mogazoo.checkpoint.converters.official`).
"""
import itertools
import os.path as osp
from typing import Optional, Union

import mmcv
import numpy as np
import torch
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DATASETS, MODELS, init_default_scope
from mmengine.runner import load_checkpoint

from mogazoo.utils import load_config

TASKS = dict(mmdet='detection', mmseg='segmentation')
_names = itertools.count()


def downstream_task(cfg) -> Optional[str]:
    """``'detection'``, ``'segmentation'`` or None (a classifier) from a
    config's ``default_scope``."""
    return TASKS.get(cfg.get('default_scope'))


def init_downstream_model(config,
                          checkpoint: Optional[str] = None,
                          device: str = 'cpu'):
    """A detector (mmdet) or segmentor (mmseg) from a config file, in eval
    mode, with ``model.cfg`` and ``model.dataset_meta`` (the checkpoint's,
    else the config's test dataset's: never another dataset's classes).

    Args:
        config (str | Config): A det or seg config.
        checkpoint (str, optional): Its weights (random without).
        device (str): Defaults to 'cpu'.

    Raises:
        FileNotFoundError: A missing config or checkpoint.
        ValueError: A config that is neither det nor seg.
    """
    cfg = load_config(config)
    task = downstream_task(cfg)
    if task is None:
        raise ValueError(
            f'{config}: default_scope is {cfg.get("default_scope")!r}, '
            f'not one of {sorted(TASKS)}: not a detection or segmentation '
            'config (classifiers: mogazoo.get_model / demo/image_demo.py)')
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'Checkpoint not found: {checkpoint}')
    init_default_scope(cfg.default_scope)
    cfg.model.pop('pretrained', None)
    if task == 'segmentation':
        cfg.model.train_cfg = None
    model = MODELS.build(cfg.model)
    meta = {}
    if checkpoint is not None:
        loaded = load_checkpoint(model, checkpoint, map_location='cpu')
        meta = (loaded.get('meta') or {}).get('dataset_meta') or {}
    model.dataset_meta = {k.lower(): v for k, v in meta.items()} or \
        config_dataset_meta(cfg)
    model.cfg = cfg
    if not torch.cuda.is_available():
        model = revert_sync_batchnorm(model)
    return model.to(device).eval()


def config_dataset_meta(cfg) -> dict:
    """``classes`` and ``palette`` of the config's test dataset (its class's
    ``METAINFO`` updated by the config's ``metainfo``), read without its
    annotation files; a palette is made when the dataset has none, and cut
    to the classes."""
    dataset = cfg.get('test_dataloader', cfg.get('val_dataloader'))['dataset']
    name = dataset['type'] if '.' in str(dataset['type']) else \
        f'{cfg.default_scope}.{dataset["type"]}'
    dataset_cls = DATASETS.get(name)
    if dataset_cls is None:
        raise KeyError(f'Unknown dataset type {name} in the config')
    meta = dataset_cls._load_metainfo(dict(dataset.get('metainfo') or {}))
    classes = tuple(meta.get('classes') or ())
    if not classes:
        raise ValueError(f'The test dataset of the config ({dataset["type"]}'
                         ') names no classes: set its metainfo.classes')
    palette = [tuple(c) for c in meta.get('palette') or ()]
    if len(palette) < len(classes):
        rng = np.random.default_rng(42)
        palette += [
            tuple(int(v) for v in rng.integers(0, 256, 3))
            for _ in range(len(classes) - len(palette))
        ]
    return dict(classes=classes, palette=palette[:len(classes)])


def _read_image(image):
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError('image array must be H x W x 3 (BGR), got shape '
                             f'{image.shape}')
        return image
    if not osp.isfile(str(image)):
        raise FileNotFoundError(f'Image not found: {image}')
    img = mmcv.imread(image)
    if img is None:
        raise ValueError(f'Cannot read image {image}')
    return img


def inference_downstream(model, image: Union[str, np.ndarray]):
    """The prediction (a ``DetDataSample`` or ``SegDataSample``) of a model
    from :func:`init_downstream_model` for one image (a file or an ``H x W
    x 3`` BGR uint8 array)."""
    img = _read_image(image)
    init_default_scope(model.cfg.default_scope)
    with torch.no_grad():
        if downstream_task(model.cfg) == 'detection':
            # lazy: an optional / heavy dependency, imported on use
            from mmdet.apis import inference_detector
            return inference_detector(model, img)
        # lazy: an optional / heavy dependency, imported on use
        from mmseg.apis import inference_model
        return inference_model(model, img)


def render_downstream(model,
                      image: Union[str, np.ndarray],
                      result,
                      score_thr: float = 0.3,
                      opacity: float = 0.5) -> np.ndarray:
    """``result`` drawn over ``image`` by mmdet's ``DetLocalVisualizer``
    (boxes, labels, scores and masks above ``score_thr``) or mmseg's
    ``SegLocalVisualizer`` (the class map at ``opacity``).

    Returns:
        np.ndarray: ``H x W x 3`` uint8 RGB at the image's size.
    """
    rgb = mmcv.bgr2rgb(_read_image(image))
    if downstream_task(model.cfg) == 'detection':
        # lazy: an optional / heavy dependency, imported on use
        from mmdet.visualization import DetLocalVisualizer
        vis = DetLocalVisualizer(
            name=f'mogazoo_det_{next(_names)}', alpha=opacity)
        vis.dataset_meta = model.dataset_meta
        vis.add_datasample(
            'prediction',
            rgb,
            result,
            draw_gt=False,
            show=False,
            pred_score_thr=score_thr)
    else:
        # lazy: an optional / heavy dependency, imported on use
        from mmseg.visualization import SegLocalVisualizer
        vis = SegLocalVisualizer(
            name=f'mogazoo_seg_{next(_names)}', alpha=opacity)
        vis.set_dataset_meta(
            classes=model.dataset_meta['classes'],
            palette=model.dataset_meta['palette'])
        vis.add_datasample(
            'prediction', rgb, result, draw_gt=False, show=False)
    return vis.get_image()
