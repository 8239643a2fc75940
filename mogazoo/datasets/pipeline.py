"""One image through a config's test pipeline, as inference and CAMs
need it."""
import os.path as osp

import numpy as np
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope


def _test_pipeline(cfg, from_array: bool):
    ds = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    pipeline = ds.get('pipeline') or cfg.get('test_pipeline')
    if not pipeline:
        raise ValueError('The config has no test pipeline '
                         '(test_dataloader.dataset.pipeline or test_pipeline)')
    pipeline = [dict(t) for t in pipeline]
    if from_array:  # drop LoadImageFromFile (and variants of it)
        pipeline = [
            t for t in pipeline if
            not str(t['type']).split('.')[-1].startswith('LoadImageFromFile')
        ]
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return Compose(pipeline)


def test_pipeline_data(model, image):
    """``image`` (a file path or an ``H x W x 3`` BGR uint8 array) through
    the test pipeline of ``model.cfg``: the packed sample the data
    preprocessor takes.

    Raises:
        FileNotFoundError: A missing image file.
        ValueError: An array that is not ``H x W x 3``.
        TypeError: Anything else.
    """
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError('image array must be H x W x 3 (BGR), got shape '
                             f'{image.shape}')
        data = dict(
            img=image, img_shape=image.shape[:2], ori_shape=image.shape[:2])
    elif isinstance(image, str):
        if not osp.isfile(image):
            raise FileNotFoundError(f'Image not found: {image}')
        data = dict(img_path=image)
    else:
        raise TypeError('image must be a file path or an H x W x 3 array, '
                        f'got {type(image).__name__}')
    return _test_pipeline(model.cfg, isinstance(image, np.ndarray))(data)
