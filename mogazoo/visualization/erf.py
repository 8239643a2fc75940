"""Effective receptive field (ERF) of a backbone, as the RepLKNet analysis
(and the MogaNet paper) computes it.

For each image, the gradient of the centre of the last stage's output
(``relu``, summed over channels) with respect to the input; its absolute
value summed over the input channels is the image's contribution map, and
the maps are averaged over the images. :func:`erf_scores` then log-scales
(``log10(x + 1)``) and normalises the map to ``[0, 1]``, and
:func:`high_contribution_ratios` gives, for thresholds such as 20/30/50/99
%, the area ratio of the smallest centred square holding that share of the
total score: a small ratio is a concentrated ERF, a large one a wide ERF.
"""
import os
import os.path as osp
from typing import Dict, Sequence

import numpy as np
import torch

from .cam import preprocess

THRESHOLDS = (0.2, 0.3, 0.5, 0.99)


def centre_gradient_map(model, inputs: torch.Tensor) -> np.ndarray:
    """``|d centre / d input|`` summed over the input channels, for one
    batch ``(N, 3, H, W)`` (summed over the batch): an ``H x W`` array.

    The centre is the middle position of the last backbone output (``relu``
    and summed over channels), as in RepLKNet's ``analyze_erf.py``.
    """
    inputs = inputs.detach().clone().requires_grad_(True)
    feats = model.backbone(inputs)
    feat = feats[-1] if isinstance(feats, (tuple, list)) else feats
    if feat.dim() != 4:
        raise ValueError('the backbone\'s last output must be (N, C, H, W), '
                         f'got shape {tuple(feat.shape)}')
    h, w = feat.shape[2:]
    centre = torch.relu(feat[:, :, h // 2, w // 2]).sum()
    (grad, ) = torch.autograd.grad(centre, inputs)
    return grad.abs().sum(dim=(0, 1)).cpu().numpy()


def compute_erf(model, images: Sequence[str]) -> np.ndarray:
    """The mean contribution map of ``images`` (files, through the config's
    test pipeline and the data preprocessor, see :func:`.cam.preprocess`)
    for ``model`` (from :func:`mogazoo.get_model`), in eval mode.

    Raises:
        ValueError: No images, or images that preprocess to different sizes.
    """
    if not images:
        raise ValueError('compute_erf: no images given')
    model.eval()
    total, shape = None, None
    for path in images:
        inputs, _ = preprocess(model, path)
        inputs = inputs.to(next(model.parameters()).device)
        grad = centre_gradient_map(model, inputs)
        if shape is None:
            shape, total = grad.shape, np.zeros_like(grad, dtype=np.float64)
        elif grad.shape != shape:
            raise ValueError(f'{path} preprocesses to {grad.shape}, the '
                             f'first image to {shape}: give images of one '
                             'size or a config whose test pipeline resizes')
        total += grad
    return total / len(images)


def erf_scores(erf: np.ndarray) -> np.ndarray:
    """``log10(erf + 1)`` scaled to a maximum of 1 (RepLKNet)."""
    data = np.log10(np.asarray(erf, dtype=np.float64) + 1)
    peak = data.max()
    return data / peak if peak > 0 else data


def high_contribution_ratios(
        erf: np.ndarray,
        thresholds: Sequence[float] = THRESHOLDS) -> Dict[float, float]:
    """For each threshold ``t``, the area (as a fraction of the image) of
    the smallest square centred on the image holding at least ``t`` of the
    sum of :func:`erf_scores`; 1.0 if only the whole image does."""
    data = erf_scores(erf)
    h, w = data.shape
    total = data.sum()
    out = {}
    for t in thresholds:
        ratio = 1.0
        for i in range(max(h, w) // 2 + 1):
            part = data[max(h // 2 - i, 0):h // 2 + i + 1,
                        max(w // 2 - i, 0):w // 2 + i + 1]
            if total > 0 and part.sum() / total >= t:
                ratio = part.size / data.size
                break
        out[t] = ratio
    return out


def save_erf(erf: np.ndarray, path: str, title: str = None) -> str:
    """The log-scaled map (:func:`erf_scores`) as a heat map PNG, with the
    high-contribution area ratios in the title."""
    # lazy: an optional / heavy dependency, imported on use
    import matplotlib
    matplotlib.use('Agg')
    # lazy: an optional / heavy dependency, imported on use
    import matplotlib.pyplot as plt
    ratios = high_contribution_ratios(erf)
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    im = ax.imshow(erf_scores(erf), cmap='RdYlGn', vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_axis_off()
    text = ', '.join(f'{int(t * 100)}%: {r:.3f}' for t, r in ratios.items())
    ax.set_title((f'{title}\n' if title else '') + text, fontsize=8)
    fig.tight_layout()
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
