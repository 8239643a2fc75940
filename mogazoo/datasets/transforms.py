"""Data transforms: image loading that survives bad files, and DeiT III's
3-Augment."""
import logging
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmcv.transforms.utils import cache_randomness
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS
from PIL import Image

#: Default of ``LoadImageFromFileSafe(max_pixels=...)``: OpenCV's own decode
#: limit (``CV_IO_MAX_IMAGE_PIXELS``), 32768 x 32768; 3 GiB as BGR uint8.
MAX_PIXELS = 1 << 30


class CorruptImageError(OSError):
    """An image file that is missing, unreadable or does not decode."""


class ImageTooLargeError(CorruptImageError):
    """An image file with more pixels than the loader's ``max_pixels``."""


def image_size(path: str) -> Optional[Tuple[int, int]]:
    """``(width, height)`` of a local image file from its header, without
    decoding it (and without PIL's decompression-bomb refusal, which would
    stop at PIL's own limit); None when no PIL plugin reads the header."""
    Image.init()
    with open(path, 'rb') as f:
        prefix = f.read(16)
        for fmt in Image.ID:
            factory, accept = Image.OPEN[fmt]
            if accept is not None and not accept(prefix):
                continue
            f.seek(0)
            try:
                return factory(f, path).size
            except Exception:  # noqa: BLE001 - not this format: next one
                continue
    return None


@TRANSFORMS.register_module()
class LoadImageFromFileSafe(LoadImageFromFile):
    """:class:`mmcv.transforms.LoadImageFromFile` that names the file when it
    cannot be read, and can skip it.

    A file that is missing, unreadable or does not decode raises
    :class:`CorruptImageError` with its path, or, with ``skip_corrupt=True``,
    logs a warning with its path and returns ``None``: a training dataset
    (mmengine ``BaseDataset`` with ``test_mode=False``) then draws another
    sample at random (up to its ``max_refetch`` times) and the run goes on.

    A sample that already holds a decoded ``img`` and no ``img_path``
    passes through unchanged: mmpretrain's inferencers load the image
    themselves and remove only a plain ``LoadImageFromFile`` from the test
    pipeline.

    Skipping is meant for training pipelines. In an evaluation pipeline a
    skipped image would be replaced by another one (or, with
    ``test_mode=True``, stop the run with mmengine's "Test time pipeline
    should not get None"), so keep ``skip_corrupt=False`` there and find bad
    files beforehand with ``split_dataset.py --check``.

    An image with more than ``max_pixels`` pixels (read from the file's
    header, before anything is decoded) is refused the same way, with
    :class:`ImageTooLargeError` naming its size: decoding a 60000 x 60000
    image would take 10 GiB.

    Args:
        skip_corrupt (bool): Return ``None`` with a warning instead of
            raising. Defaults to False.
        max_pixels (int, optional): The largest width x height decoded
            (local files). None: no limit of mogazoo's (OpenCV's own still
            applies). Defaults to :data:`MAX_PIXELS` (2**30).
        **kwargs: Arguments of :class:`mmcv.transforms.LoadImageFromFile`
            (``to_float32``, ``color_type``, ``imdecode_backend``,
            ``backend_args``, ...).
    """

    def __init__(self,
                 skip_corrupt: bool = False,
                 max_pixels: Optional[int] = MAX_PIXELS,
                 **kwargs):
        super().__init__(**kwargs)
        self.skip_corrupt = skip_corrupt
        self.max_pixels = max_pixels

    def _check_size(self, path):
        """Raise :class:`ImageTooLargeError` for a local file over
        ``max_pixels``."""
        if self.max_pixels is None or not isinstance(path, str) or \
                not osp.isfile(path):
            return
        try:
            size = image_size(path)
        except OSError:
            return  # unreadable: the decoder names it
        if size is not None and size[0] * size[1] > self.max_pixels:
            raise ImageTooLargeError(
                f'Image {path} has {size[0] * size[1]} pixels '
                f'({size[0]} x {size[1]}), more than max_pixels='
                f'{self.max_pixels} of LoadImageFromFileSafe (raise it in '
                'the pipeline, or resize the file)')

    def transform(self, results: dict) -> Optional[dict]:
        if 'img_path' not in results and results.get('img') is not None:
            return results
        path = results.get('img_path')
        try:
            self._check_size(path)
            out = super().transform(results)
            if out is not None and out.get('img') is not None:
                return out
            error = CorruptImageError(
                f'Cannot read image {path} (no image decoded)')
        except ImageTooLargeError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - reported with the path
            error = CorruptImageError(
                f'Cannot read image {path} ({type(exc).__name__}: {exc})')
        if not self.skip_corrupt:
            raise error
        print_log(
            f'{error}; skipped, another sample is drawn',
            logger='current',
            level=logging.WARNING)
        return None

    def __repr__(self):
        return super().__repr__()[:-1] + (
            f', skip_corrupt={self.skip_corrupt}, '
            f'max_pixels={self.max_pixels})')


@TRANSFORMS.register_module()
class ThreeAugment(BaseTransform):
    """3-Augment of `DeiT III <https://arxiv.org/abs/2204.07118>`_.

    Each image gets exactly one of three distortions, picked with equal
    chance: grayscale (the luma, ITU-R 601, in all channels), solarization
    (pixels at or above ``solarize_thr`` inverted) or Gaussian blur with a
    sigma drawn uniformly from ``blur_sigma``. The DeiT III recipe follows it
    with ``ColorJitter`` 0.3 and has a horizontal flip before it.

    Required keys: ``img`` (HxWxC uint8, BGR as mmcv loads it, or HxW).
    Modified keys: ``img``.

    Args:
        prob (float): Chance that an image gets one of the three at all
            (DeiT III: 1). Defaults to 1.0.
        solarize_thr (int): Solarization threshold. Defaults to 128.
        blur_sigma (Sequence[float]): Range of the blur's sigma in pixels,
            as DeiT III's radius. Defaults to ``(0.1, 2.0)``.
    """
    OPS = ('grayscale', 'solarize', 'blur')

    def __init__(self,
                 prob: float = 1.0,
                 solarize_thr: int = 128,
                 blur_sigma: Sequence[float] = (0.1, 2.0)):
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if not 0 < blur_sigma[0] <= blur_sigma[1]:
            raise ValueError(f'blur_sigma must be (min, max) with '
                             f'0 < min <= max, got {blur_sigma}')
        self.prob = prob
        self.solarize_thr = solarize_thr
        self.blur_sigma = tuple(blur_sigma)

    @cache_randomness
    def choose(self):
        """Draw the distortion: ``(op, sigma)``, ``op`` one of :attr:`OPS`
        or None (no distortion, with chance ``1 - prob``)."""
        if np.random.rand() >= self.prob:
            return None, None
        op = self.OPS[np.random.randint(len(self.OPS))]
        return op, np.random.uniform(*self.blur_sigma)

    def apply(self, img: np.ndarray, op: Optional[str],
              sigma: Optional[float]) -> np.ndarray:
        """Apply distortion ``op`` (blurring with ``sigma``) to ``img``."""
        if op == 'grayscale':
            if img.ndim == 3 and img.shape[2] == 3:
                img = mmcv.gray2bgr(mmcv.bgr2gray(img))
        elif op == 'solarize':
            img = mmcv.solarize(img, self.solarize_thr).astype(img.dtype)
        elif op == 'blur':
            img = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma)
        return img

    def transform(self, results: dict) -> dict:
        results['img'] = self.apply(results['img'], *self.choose())
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(prob={self.prob}, solarize_thr='
                f'{self.solarize_thr}, blur_sigma={self.blur_sigma})')
