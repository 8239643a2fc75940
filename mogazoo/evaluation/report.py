"""Evaluation report of a classifier: ROC curves and AUC (one-vs-rest),
confusion matrix, per-class precision / recall / F1, top-k accuracy.

Everything is computed from a score matrix ``(N, C)`` and the true labels
``(N, )``, which :func:`predict_dataset` (a model on a dataloader) or
:func:`results_to_arrays` (a ``tools/test.py --out`` pickle) provide.
Accuracies, precisions etc. are fractions in ``[0, 1]``. Plots use
matplotlib's Agg canvas directly (no pyplot, no global backend change).
"""
import csv
import json
import math
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.utils import ProgressBar
from sklearn.metrics import (auc, classification_report, confusion_matrix,
                             precision_recall_fscore_support, roc_auc_score,
                             roc_curve)

from mogazoo.checkpoint import load_plain_pickle
from mogazoo.utils import check_file_exists

#: Up to this many classes the ROC plot draws one curve per class.
MAX_ROC_CURVES = 20


def predict_dataset(model, dataloader, progress: bool = True):
    """Scores and true labels of a classifier over a dataloader.

    Args:
        model (nn.Module): An mmpretrain classifier in eval mode.
        dataloader (DataLoader): Batches as mmpretrain's pipelines make them
            (with ``gt_label``).
        progress (bool): Show mmengine's progress bar. Defaults to True.

    Returns:
        tuple[np.ndarray, np.ndarray]: Scores ``(N, C)`` (softmax) and
        labels ``(N, )``.
    """
    bar = ProgressBar(len(dataloader.dataset)) if progress else None
    results = []
    with torch.no_grad():
        for batch in dataloader:
            samples = model.test_step(batch)
            results.extend(s.to_dict() for s in samples)
            if bar:
                bar.update(len(samples))
    if bar:
        print()
    return results_to_arrays(results)


def load_results(path: str) -> list:
    """Read a results pickle of ``tools/test.py --out`` (mmengine's
    ``DumpResults``: one dict per image).

    The file is read by :func:`mogazoo.utils.load_plain_pickle`, which
    allows only plain results (containers, numbers, strings, numpy arrays,
    torch tensors): a pickle that references anything else (e.g.
    ``posix.system``) is refused, naming it, and none of it runs.

    Args:
        path (str): The ``.pkl`` file.

    Returns:
        list: The per-image results.

    Raises:
        FileNotFoundError: The file is missing.
        RuntimeError: It is refused (see above), truncated or not a pickle.
        ValueError: It holds no list of results.
    """
    check_file_exists(path, 'Results file')
    results = load_plain_pickle(path, 'Results file')
    if not isinstance(results, (list, tuple)):
        raise ValueError(f'Results file {path} holds a '
                         f'{type(results).__name__}, not a list of results')
    return list(results)


def results_to_arrays(results: Sequence):
    """Scores ``(N, C)`` and labels ``(N, )`` of per-image results.

    Args:
        results (Sequence[dict]): Dicts (or data samples) with
            ``pred_score`` (``(C, )``) and ``gt_label``, as mmpretrain's
            models predict them and ``DumpResults`` writes them.
    """
    if len(results) == 0:
        raise ValueError('No results to evaluate')
    scores, labels = [], []
    for i, res in enumerate(results):
        if hasattr(res, 'to_dict'):
            res = res.to_dict()
        if not isinstance(res, dict):
            raise ValueError(f'Result {i} is a {type(res).__name__}, not a '
                             'dict with pred_score and gt_label')
        for key in ('pred_score', 'gt_label'):
            if res.get(key) is None:
                raise ValueError(
                    f"Result {i} has no '{key}' (keys: {sorted(res)}); a "
                    'report needs the scores of every class and the true '
                    'labels')
        scores.append(np.asarray(res['pred_score'], dtype=np.float64))
        labels.append(int(np.asarray(res['gt_label']).reshape(-1)[0]))
    if len({s.shape for s in scores}) != 1 or scores[0].ndim != 1:
        raise ValueError('pred_score must be one (C, ) vector per result, '
                         f'got shapes {sorted({s.shape for s in scores})}')
    return np.stack(scores), np.asarray(labels, dtype=np.int64)


def _check(scores, labels, classes):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if scores.ndim != 2 or labels.shape != scores.shape[:1]:
        raise ValueError(f'scores must be (N, C) and labels (N, ), got '
                         f'{scores.shape} and {labels.shape}')
    num_classes = scores.shape[1]
    if labels.size and not 0 <= labels.min() <= labels.max() < num_classes:
        raise ValueError(f'labels must be in 0..{num_classes - 1}, got '
                         f'{labels.min()}..{labels.max()}')
    if classes is None:
        classes = [str(c) for c in range(num_classes)]
    elif len(classes) != num_classes:
        raise ValueError(f'{len(classes)} class names for {num_classes} '
                         'scores per image')
    return scores, labels, [str(c) for c in classes]


def topk_accuracy(scores, labels, topk: Sequence[int] = (1, 5)) -> dict:
    """Fraction of images whose label is among the ``k`` best scores.

    Args:
        scores (np.ndarray): ``(N, C)``.
        labels (np.ndarray): ``(N, )``.
        topk (Sequence[int]): The ``k`` values; those above ``C`` are
            skipped. Defaults to (1, 5).

    Returns:
        dict: ``{'top1': float, ...}``.
    """
    order = np.argsort(-np.asarray(scores), axis=1, kind='stable')
    hits = order == np.asarray(labels)[:, None]
    return {
        f'top{k}': float(hits[:, :k].any(axis=1).mean())
        for k in topk if 1 <= k <= order.shape[1]
    }


def classification_summary(
        scores,
        labels,
        classes: Optional[Sequence[str]] = None,
        topk: Sequence[int] = (1, 5),
) -> dict:
    """All the numbers of the report.

    Args:
        scores (np.ndarray): ``(N, C)`` class scores (any monotonic scale:
            probabilities or logits).
        labels (np.ndarray): ``(N, )`` true labels in ``0..C-1``.
        classes (Sequence[str], optional): Class names; None names them by
            index. Defaults to None.
        topk (Sequence[int]): ``k`` of the top-k accuracies.
            Defaults to (1, 5).

    Returns:
        dict: ``num_samples``, ``classes``, ``topk_accuracy``, ``per_class``
        (``precision``, ``recall``, ``f1``, ``support``, ``auc``; AUC is
        NaN for a class with no positive or no negative image), ``macro_avg``
        and ``weighted_avg`` (by support; AUC over the classes that have
        one), ``micro_auc`` and ``confusion_matrix`` (counts, rows true).
    """
    scores, labels, classes = _check(scores, labels, classes)
    num_classes = len(classes)
    preds = scores.argmax(axis=1)
    ids = list(range(num_classes))
    prec, rec, f1, support = precision_recall_fscore_support(
        labels, preds, labels=ids, zero_division=0)
    onehot = labels[:, None] == np.arange(num_classes)
    auc = np.array([
        roc_auc_score(onehot[:, c], scores[:, c])
        if 0 < onehot[:, c].sum() < len(labels) else np.nan for c in ids
    ])
    per_class = [
        dict(
            name=classes[c],
            precision=float(prec[c]),
            recall=float(rec[c]),
            f1=float(f1[c]),
            support=int(support[c]),
            auc=float(auc[c])) for c in ids
    ]

    def average(weights):
        out = {
            k: float(np.average([r[k] for r in per_class], weights=weights))
            for k in ('precision', 'recall', 'f1')
        }
        ok = ~np.isnan(auc) & (weights > 0)
        out['auc'] = float(np.average(auc[ok], weights=weights[ok])) \
            if ok.any() else math.nan
        out['support'] = int(support.sum())
        return out

    micro = roc_auc_score(
        onehot.ravel(),
        scores.ravel()) if 0 < onehot.sum() < onehot.size else math.nan
    return dict(
        num_samples=int(len(labels)),
        num_classes=num_classes,
        classes=classes,
        topk_accuracy=topk_accuracy(scores, labels, topk),
        per_class=per_class,
        macro_avg=average(np.ones(num_classes)),
        weighted_avg=average(support.astype(np.float64)),
        micro_auc=float(micro),
        confusion_matrix=confusion_matrix(labels, preds, labels=ids).tolist())


def normalize_confusion(matrix) -> np.ndarray:
    """Rows divided by their sums (the recall of each true class); rows of
    classes without images stay zero."""
    matrix = np.asarray(matrix, dtype=np.float64)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def _figure(size):
    # lazy: an optional / heavy dependency, imported on use
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    # lazy: an optional / heavy dependency, imported on use
    from matplotlib.figure import Figure
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def plot_roc(scores, labels, classes, path: str) -> str:
    """One-vs-rest ROC curves with their AUC as a PNG: one curve per class
    (up to :data:`MAX_ROC_CURVES` classes) and the micro average.

    Args:
        scores (np.ndarray): ``(N, C)``.
        labels (np.ndarray): ``(N, )``.
        classes (Sequence[str] | None): Class names.
        path (str): Output PNG.
    """
    scores, labels, classes = _check(scores, labels, classes)
    onehot = labels[:, None] == np.arange(len(classes))
    fig = _figure((7, 6))
    ax = fig.add_subplot()
    if len(classes) <= MAX_ROC_CURVES:
        if len(classes) > 10:  # the default cycle has 10 colours
            from matplotlib import colormaps
            ax.set_prop_cycle(color=colormaps['tab20'].colors)
        for c, name in enumerate(classes):
            if 0 < onehot[:, c].sum() < len(labels):
                fpr, tpr, _ = roc_curve(onehot[:, c], scores[:, c])
                ax.plot(
                    fpr, tpr, lw=1, label=f'{name} (AUC {auc(fpr, tpr):.3f})')
    if 0 < onehot.sum() < onehot.size:
        fpr, tpr, _ = roc_curve(onehot.ravel(), scores.ravel())
        ax.plot(
            fpr,
            tpr,
            'k--',
            lw=2,
            label=f'micro average (AUC {auc(fpr, tpr):.3f})')
    ax.plot([0, 1], [0, 1], color='grey', lw=0.5)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel='False positive rate',
        ylabel='True positive rate',
        title='ROC (one-vs-rest)')
    ax.legend(loc='lower right', fontsize='small')
    fig.savefig(path, dpi=100, bbox_inches='tight')
    return path


def plot_confusion_matrix(matrix, classes, path: str) -> str:
    """The row-normalized confusion matrix as a PNG (values written in the
    cells for up to 15 classes, names on the axes for up to 40).

    Args:
        matrix (np.ndarray): ``(C, C)`` counts, rows true classes.
        classes (Sequence[str]): Class names.
        path (str): Output PNG.
    """
    norm = normalize_confusion(matrix)
    n = len(norm)
    side = min(20., max(5., 0.5 * n))
    fig = _figure((side + 1, side))
    ax = fig.add_subplot()
    image = ax.imshow(norm, cmap='Blues', vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if n <= 40:
        ax.set_xticks(range(n), classes, rotation=90)
        ax.set_yticks(range(n), classes)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    f'{norm[i, j]:.2f}',
                    ha='center',
                    va='center',
                    fontsize=8,
                    color='white' if norm[i, j] > 0.5 else 'black')
    ax.set(
        xlabel='Predicted',
        ylabel='True',
        title='Confusion matrix (normalized over true classes)')
    fig.savefig(path, dpi=100, bbox_inches='tight')
    return path


def _rows(summary):
    for row in summary['per_class']:
        yield row
    for key in ('macro_avg', 'weighted_avg'):
        yield dict(summary[key], name=key.replace('_', ' '))


def _format_text(summary, sklearn_text):
    lines = [sklearn_text.rstrip(), '']
    lines += [
        f'{k} accuracy: {v:.4f}' for k, v in summary['topk_accuracy'].items()
    ]
    lines += [
        f"macro AUC (one-vs-rest): {summary['macro_avg']['auc']:.4f}",
        f"weighted AUC: {summary['weighted_avg']['auc']:.4f}",
        f"micro AUC: {summary['micro_auc']:.4f}", ''
    ]
    return '\n'.join(lines)


def _json_safe(obj):
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return obj


def write_report(
        scores,
        labels,
        out_dir: str,
        classes: Optional[Sequence[str]] = None,
        topk: Sequence[int] = (1, 5),
) -> dict:
    """Write the whole report into ``out_dir``: ``roc.png``,
    ``confusion_matrix.png``, ``classification_report.csv`` (one row per
    class, then the macro and weighted averages), ``classification_report
    .txt`` and ``summary.json`` (:func:`classification_summary`, NaN as
    null, plus the normalized confusion matrix).

    Args:
        scores (np.ndarray): ``(N, C)`` class scores.
        labels (np.ndarray): ``(N, )`` true labels.
        out_dir (str): Output folder (created).
        classes (Sequence[str], optional): Class names. Defaults to None.
        topk (Sequence[int]): ``k`` of the top-k accuracies.
            Defaults to (1, 5).

    Returns:
        dict: The summary, with ``files`` (name -> path).
    """
    scores, labels, classes = _check(scores, labels, classes)
    summary = classification_summary(scores, labels, classes, topk)
    os.makedirs(out_dir, exist_ok=True)
    files = {
        name: osp.join(out_dir, name)
        for name in ('roc.png', 'confusion_matrix.png',
                     'classification_report.csv', 'classification_report.txt',
                     'summary.json')
    }
    plot_roc(scores, labels, classes, files['roc.png'])
    matrix = summary['confusion_matrix']
    plot_confusion_matrix(matrix, classes, files['confusion_matrix.png'])
    fields = ['name', 'precision', 'recall', 'f1', 'support', 'auc']
    with open(files['classification_report.csv'], 'w', newline='') as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(_rows(summary))
    text = classification_report(
        labels,
        scores.argmax(axis=1),
        labels=list(range(len(classes))),
        target_names=classes,
        digits=4,
        zero_division=0)
    with open(files['classification_report.txt'], 'w') as f:
        f.write(_format_text(summary, text))
    summary['confusion_matrix_normalized'] = normalize_confusion(
        matrix).tolist()
    summary['files'] = files
    with open(files['summary.json'], 'w') as f:
        json.dump(_json_safe(summary), f, indent=2)
    return summary
