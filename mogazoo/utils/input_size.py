"""The input size a config's test pipeline feeds its model."""
from typing import Optional, Tuple


def _hw(size, order):
    """``(h, w)`` of an ``int`` or a pair given in ``order`` ('wh' or
    'hw'), or None for anything else."""
    if isinstance(size, int):
        return size, size
    if isinstance(size, (list, tuple)) and len(size) == 2 and \
            all(isinstance(s, int) for s in size):
        return (size[1], size[0]) if order == 'wh' else tuple(size)
    return None


def _after(transform, size):
    """Size ``(h, w)`` after ``transform`` given ``size`` before it (None:
    not known)."""
    kind = str(transform.get('type', '')).split('.')[-1]
    if kind == 'CenterCrop':  # mmcv: crop_size is (w, h)
        return _hw(transform.get('crop_size'), 'wh')
    if kind == 'EfficientNetCenterCrop':  # an int: crop and resize
        return _hw(transform.get('crop_size'), 'hw')
    if kind == 'RandomCrop':  # mmpretrain: crop_size is (h, w)
        return _hw(transform.get('crop_size'), 'hw')
    if kind in ('RandomResizedCrop', 'EfficientNetRandomCrop'):
        return _hw(transform.get('scale'), 'hw')  # (h, w)
    if kind == 'Resize':  # mmcv: scale is (w, h)
        if transform.get('keep_ratio', False):
            return None  # the image's aspect ratio decides
        return _hw(transform.get('scale'), 'wh')
    if kind == 'Pad' and transform.get('size') is not None:
        return _hw(transform.get('size'), 'wh')  # mmcv: (w, h)
    if kind in ('ResizeEdge', 'RandomResize', 'RandomChoiceResize', 'Pad'):
        return None  # the size depends on the image (or on chance)
    return size  # colour, flips, normalisation, packing: size unchanged


def config_test_pipeline(cfg) -> list:
    """The pipeline a config tests with: that of its test dataloader's
    dataset, else its val dataloader's, else ``cfg.test_pipeline``."""
    for name in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(name) or {}).get('dataset') or {}
        if dataset.get('pipeline'):
            return list(dataset['pipeline'])
    return list(cfg.get('test_pipeline') or [])


def pipeline_input_size(
        cfg,
        default: Optional[Tuple[int,
                                int]] = None) -> Optional[Tuple[int, int]]:
    """Input ``(H, W)`` that the config's test pipeline
    (:func:`config_test_pipeline`) produces for every image, or ``default``
    when it depends on the image.

    The pipeline is followed from the first transform to the last. A crop
    (``CenterCrop``, ``RandomCrop``, ``RandomResizedCrop``,
    ``EfficientNetCenterCrop``), a ``Resize`` to a fixed ``scale`` without
    ``keep_ratio`` and a ``Pad`` to a fixed ``size`` fix the size; a
    ``Resize`` with ``keep_ratio=True``, a ``ResizeEdge``, a
    ``RandomResize`` and other padding leave it to the image until a later
    transform fixes it; any other transform keeps it. mmcv's ``CenterCrop``,
    ``Resize`` and ``Pad`` give sizes as ``(w, h)``, mmpretrain's crops as
    ``(h, w)``.

    Args:
        cfg (Config): The config.
        default (tuple[int, int], optional): What to return when the
            pipeline leaves the size to the image. Defaults to None.
    """
    size = None
    for transform in config_test_pipeline(cfg):
        size = _after(transform, size)
    return tuple(size) if size is not None else default
