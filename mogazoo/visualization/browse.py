"""Look at a config's dataset as the model gets it
(``tools/visualization/browse_dataset.py``).

Each sample is drawn as one RGB array: the image file as loaded
(``original``), the output of the config's pipeline, augmentations
included (``transformed``), or both side by side (``concat``), enlarged
with nearest neighbours to a fixed height. A grid of them, titled with
their classes, is drawn with matplotlib's object API (no pyplot state).
"""
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

from .predictions import enlarge

MODES = ('original', 'transformed', 'concat')
PHASES = ('train', 'val', 'test')


def build_dataset(cfg, phase: str = 'train'):
    """The dataset of ``cfg[phase + '_dataloader']``, built in mmpretrain's
    scope.

    Raises:
        ValueError: An unknown phase, or a config without that loader.
    """
    if phase not in PHASES:
        raise ValueError(f'phase must be one of {PHASES}, got {phase!r}')
    loader = cfg.get(f'{phase}_dataloader')
    if not loader:
        raise ValueError(f'The config has no {phase}_dataloader')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return DATASETS.build(loader['dataset'])


def _bgr_to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[..., 2::-1])


def sample_pictures(dataset,
                    mode: str = 'transformed',
                    indices: Optional[Sequence[int]] = None,
                    size: int = 128,
                    gap: int = 4) -> Iterator[Tuple[int, str, np.ndarray]]:
    """``(index, class name, picture)`` of samples of ``dataset``.

    Args:
        dataset: An mmpretrain dataset (``get_data_info`` with ``img_path``
            and ``gt_label``; items with ``inputs`` and ``data_samples``).
        mode (str): ``original``, ``transformed`` or ``concat``.
            Defaults to 'transformed'.
        indices (Sequence[int], optional): Which samples. Defaults to all.
        size (int): Height of each image in pixels. Defaults to 128.
        gap (int): White columns between the two images of ``concat``.

    Yields:
        tuple: ``(index, class name, H x W x 3 uint8 RGB)``.
    """
    # lazy: an optional / heavy dependency, imported on use
    import mmcv
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    classes = dataset.metainfo.get('classes') or ()
    indices = range(len(dataset)) if indices is None else indices
    for index in indices:
        info = dataset.get_data_info(index)
        label = int(np.asarray(info.get('gt_label', -1)).reshape(-1)[0])
        name = str(classes[label]) if 0 <= label < len(classes) else \
            str(label)
        panels: List[np.ndarray] = []
        if mode in ('original', 'concat'):
            img = mmcv.imread(info['img_path'])
            if img is None:
                raise ValueError(f'Cannot read image {info["img_path"]}')
            panels.append(enlarge(_bgr_to_rgb(img), size))
        if mode in ('transformed', 'concat'):
            inputs = dataset[index]['inputs']
            img = inputs.cpu().numpy().transpose(1, 2, 0)
            img = np.clip(img, 0, 255).astype(np.uint8)
            panels.append(enlarge(_bgr_to_rgb(img), size))
        if len(panels) == 2:
            white = np.full((size, gap, 3), 255, np.uint8)
            panels = [panels[0], white, panels[1]]
        yield index, name, np.concatenate(panels, axis=1)


def render_grid(pictures: Sequence[Tuple[int, str, np.ndarray]],
                columns: int = 5) -> np.ndarray:
    """The pictures of :func:`sample_pictures` in a grid, each titled
    ``#index: class``; returns ``H x W x 3`` uint8 RGB."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    # lazy: an optional / heavy dependency, imported on use
    from matplotlib.figure import Figure
    if not pictures:
        raise ValueError('no samples to draw')
    columns = max(1, min(columns, len(pictures)))
    rows = -(-len(pictures) // columns)
    h, w = pictures[0][2].shape[:2]
    dpi = 100
    fig = Figure(
        figsize=(columns * (w + 20) / dpi, rows * (h + 30) / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    for i, (index, name, picture) in enumerate(pictures):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(picture, interpolation='nearest')
        ax.set_title(f'#{index}: {name}', fontsize=9)
        ax.axis('off')
    fig.tight_layout()
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
