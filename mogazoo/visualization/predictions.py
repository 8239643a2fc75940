"""Pictures of a classifier's prediction: the input image, optionally its
class activation map, and the top-k scores as horizontal bars, side by side
in one RGB array (``demo/image_demo.py --out``, the web demo).

Each panel is ``size`` pixels high. Images are enlarged with nearest
neighbours (a 32x32 digit stays a sharp 224x224 grid of squares, so a
panel is exactly the model's input, scaled); the bar chart is drawn with
matplotlib (Agg, no pyplot state) with the score axis from 0 to 1, so the
bar lengths are the scores.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from PIL import Image

#: Fill of the bars (matplotlib's tab:blue), RGB.
BAR_COLOR = (31, 119, 180)


def enlarge(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` (``H x W x 3`` uint8) resized with nearest neighbours to
    ``size`` pixels high (width in proportion, at least 1)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError('image must be H x W x 3 uint8, got shape '
                         f'{image.shape} {image.dtype}')
    h, w = image.shape[:2]
    width = max(1, round(w * size / h))
    return np.asarray(
        Image.fromarray(image).resize((width, size), Image.NEAREST))


def prediction_text(pred: dict) -> str:
    """``'7'`` for class 7 named '7'; ``'3 (cat)'`` for a name that is not
    the index; the index alone when there is no name."""
    name = pred.get('class_name')
    label = str(pred['label'])
    return label if name in (None, label) else f'{label} ({name})'


def render_bars(preds: Sequence[dict],
                size: int = 224,
                width: Optional[int] = None) -> np.ndarray:
    """The scores of ``preds`` (best first, as
    :func:`mogazoo.inference_model` returns them) as horizontal bars, best
    on top, labelled with the class and the score.

    Args:
        preds (Sequence[dict]): ``{'label', 'score', 'class_name'}`` each.
        size (int): Height in pixels. Defaults to 224.
        width (int, optional): Width in pixels. Defaults to ``1.6 * size``.

    Returns:
        np.ndarray: ``size x width x 3`` uint8 RGB.
    """
    # lazy: an optional / heavy dependency, imported on use
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    # lazy: an optional / heavy dependency, imported on use
    from matplotlib.figure import Figure
    if not preds:
        raise ValueError('no predictions to draw')
    width = width or round(1.6 * size)
    dpi = 100
    fig = Figure(figsize=(width / dpi, size / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes([0.3, 0.12, 0.6, 0.8])
    scores = [float(p['score']) for p in preds]
    rows = np.arange(len(preds))[::-1]  # best on top
    ax.barh(
        rows,
        scores,
        height=0.6,
        color=np.array(BAR_COLOR) / 255,
        edgecolor='none',
        antialiased=False)
    ax.set_yticks(rows, [prediction_text(p) for p in preds])
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, len(preds) - 0.5)
    ax.set_xticks([0, 0.5, 1])
    ax.tick_params(labelsize=max(6, size // 28))
    for row, score in zip(rows, scores):
        ax.text(
            min(score, 1) + 0.02,
            row,
            f'{score:.3f}',
            va='center',
            fontsize=max(6, size // 28))
    for side in ('top', 'right'):
        ax.spines[side].set_visible(False)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def render_prediction(preds: Sequence[dict],
                      image: Optional[np.ndarray] = None,
                      cam: Optional[np.ndarray] = None,
                      size: int = 224,
                      gap: int = 8) -> np.ndarray:
    """One picture of a prediction: ``image``, ``cam`` (an overlay, e.g.
    :attr:`CAMResult.overlay`) and the bars of ``preds``, left to right,
    each ``size`` pixels high, ``gap`` white pixels apart.

    Args:
        preds (Sequence[dict]): The top-k predictions, best first.
        image (np.ndarray, optional): ``H x W x 3`` uint8 RGB, enlarged
            with nearest neighbours (:func:`enlarge`).
        cam (np.ndarray, optional): ``H x W x 3`` uint8 RGB, the same way.
        size (int): Panel height. Defaults to 224.
        gap (int): White columns between panels. Defaults to 8.

    Returns:
        np.ndarray: ``size x W x 3`` uint8 RGB.
    """
    panels: List[np.ndarray] = [
        enlarge(p, size) for p in (image, cam) if p is not None
    ]
    panels.append(render_bars(preds, size))
    white = np.full((size, gap, 3), 255, np.uint8)
    out = [panels[0]]
    for panel in panels[1:]:
        out += [white, panel]
    return np.concatenate(out, axis=1)


def save_rgb(array: np.ndarray, path: str) -> str:
    """Write an ``H x W x 3`` uint8 RGB array as a PNG (folders created);
    returns ``path``."""
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, format='PNG')
    return path
