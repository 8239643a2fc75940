"""Export a classifier to ONNX or TorchScript and check it against PyTorch.

The exported network is backbone + neck + head of an mmpretrain classifier:
it takes a **preprocessed** float batch ``(N, 3, H, W)`` (channels in the
order and normalization of the model's data preprocessor, recorded in the
file's metadata) and returns ``(N, num_classes)`` logits, or softmax scores
with ``softmax=True``. The batch axis is dynamic; ``H`` and ``W`` are fixed.

ONNX goes through the TorchScript-based exporter (``dynamo=False``) by
default: it handles all three families at batch 1 and exports in seconds.
``dynamo=True`` uses the ``torch.export``-based one instead (slower, opset
18 or later, and an example batch of at least 2, since it specializes sizes
of 1).
"""
import contextlib
import json
import warnings
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

from mogazoo.models.utils.deform_unfold import DeformUnfold

FORMATS = {'onnx': '.onnx', 'torchscript': '.pt'}
META_KEY = 'mogazoo'  # ONNX metadata key / TorchScript extra file stem


class ExportWrapper(nn.Module):
    """The network of an mmpretrain classifier as a plain tensor module.

    Args:
        classifier (nn.Module): An mmpretrain ``ImageClassifier``.
        softmax (bool): Return softmax scores instead of logits.
            Defaults to False.
    """

    def __init__(self, classifier: nn.Module, softmax: bool = False):
        super().__init__()
        self.classifier = classifier
        self.softmax = softmax

    def forward(self, x):
        out = self.classifier(x, mode='tensor')
        return out.softmax(dim=-1) if self.softmax else out


@contextlib.contextmanager
def export_mode(model: nn.Module):
    """Run the body with the model in a traceable form, restored afterwards.

    * DGMN2's deformable unfold samples in plain PyTorch (``sampler=
      'pytorch'``): mmcv's compiled op can neither be exported to ONNX nor
      traced compactly.

    Args:
        model (nn.Module): The model; changed in place inside the body.
    """
    saved = []
    for m in model.modules():
        if isinstance(m, DeformUnfold):
            saved.append((m, 'sampler', m.sampler))
            m.sampler = 'pytorch'
    try:
        yield model
    finally:
        for m, name, value in saved:
            setattr(m, name, value)


def export_meta(model: nn.Module, shape: Sequence[int], softmax: bool) -> dict:
    """What a runtime needs to feed and read the exported network.

    Args:
        model (nn.Module): The classifier (with ``dataset_meta`` if known).
        shape (Sequence[int]): Input ``(H, W)``.
        softmax (bool): Whether the output is softmax scores.

    Returns:
        dict: ``input`` (``N x 3 x H x W``), ``output`` (``'logits'`` or
        ``'softmax'``), ``to_rgb``, ``mean``, ``std`` (of 0-255 pixels, or
        None) and ``classes`` (or None).
    """
    pre = getattr(model, 'data_preprocessor', None)
    mean = getattr(pre, 'mean', None)
    std = getattr(pre, 'std', None)
    return dict(
        input=['N', 3, int(shape[0]), int(shape[1])],
        output='softmax' if softmax else 'logits',
        to_rgb=bool(getattr(pre, 'to_rgb', False)),
        mean=None if mean is None else mean.flatten().tolist(),
        std=None if std is None else std.flatten().tolist(),
        classes=list(
            (getattr(model, 'dataset_meta', None) or {}).get('classes') or [])
        or None)


def export_model(model: nn.Module,
                 path: str,
                 fmt: str = 'onnx',
                 shape: Sequence[int] = (224, 224),
                 batch_size: int = 1,
                 softmax: bool = False,
                 opset: int = 17,
                 dynamo: bool = False) -> str:
    """Export a classifier with a dynamic batch axis.

    Args:
        model (nn.Module): An mmpretrain classifier in eval mode.
        path (str): Output file.
        fmt (str): ``'onnx'`` or ``'torchscript'`` (``torch.jit.trace``).
            Defaults to 'onnx'.
        shape (Sequence[int]): Input ``(H, W)``. Defaults to (224, 224).
        batch_size (int): Batch of the example input. Defaults to 1.
        softmax (bool): Export softmax scores instead of logits.
            Defaults to False.
        opset (int): ONNX opset. Defaults to 17.
        dynamo (bool): ONNX through the ``torch.export``-based exporter
            (example batch raised to 2, opset to 18). Defaults to False.

    Returns:
        str: ``path``.
    """
    if fmt not in FORMATS:
        raise ValueError(f'Unknown export format {fmt!r}; choose one of '
                         f'{sorted(FORMATS)}')
    wrapper = ExportWrapper(model, softmax).eval()
    if dynamo:
        batch_size = max(batch_size, 2)
    x = torch.randn(batch_size, 3, *shape)
    meta = json.dumps(export_meta(model, shape, softmax))
    with export_mode(model), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # tracer and deprecation notices
        wrapper(x)  # fill lazily built caches (FasterViT's position tables)
        if fmt == 'torchscript':
            traced = torch.jit.trace(wrapper, x, check_trace=False)
            torch.jit.save(
                traced, path, _extra_files={f'{META_KEY}.json': meta})
            return path
        names = dict(input_names=['input'], output_names=['output'])
        if dynamo:
            torch.onnx.export(
                wrapper, (x, ),
                path,
                dynamo=True,
                verbose=False,
                opset_version=max(opset, 18),
                dynamic_shapes=({
                    0: torch.export.Dim('batch')
                }, ),
                **names)
        else:
            torch.onnx.export(
                wrapper, (x, ),
                path,
                dynamo=False,
                opset_version=opset,
                dynamic_axes={
                    'input': {
                        0: 'batch'
                    },
                    'output': {
                        0: 'batch'
                    }
                },
                **names)
    # lazy: an optional / heavy dependency, imported on use
    import onnx
    proto = onnx.load(path)
    onnx.helper.set_model_props(proto, {META_KEY: meta})
    onnx.save(proto, path)
    return path


def load_exported(path: str, fmt: str):
    """A function running an exported file: float32 array -> array.

    Args:
        path (str): The exported file.
        fmt (str): ``'onnx'`` (onnxruntime, CPU) or ``'torchscript'``.
    """
    if fmt == 'onnx':
        # lazy: an optional / heavy dependency, imported on use
        import onnxruntime as ort
        sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
        name = sess.get_inputs()[0].name
        return lambda x: sess.run(None, {name: x})[0]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)  # jit is deprecated
        module = torch.jit.load(path, map_location='cpu').eval()

    def run(x):
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return run


def check_exported(model: nn.Module,
                   path: str,
                   fmt: str,
                   shape: Sequence[int],
                   batch_size: int = 3,
                   softmax: bool = False,
                   atol: float = 1e-4,
                   seed: Optional[int] = 0) -> dict:
    """Run the exported file and the PyTorch model (on the CPU) on the same
    random batch and compare.

    The check passes when ``max |exported - pytorch| <= atol * max(1, max
    |pytorch|)``: an absolute tolerance for outputs up to 1 (softmax scores,
    small logits), relative to the largest output above.

    Args:
        model (nn.Module): The classifier that was exported.
        path (str): The exported file.
        fmt (str): ``'onnx'`` or ``'torchscript'``.
        shape (Sequence[int]): Input ``(H, W)``.
        batch_size (int): Batch of the check; pick one other than the export
            batch to test the dynamic axis. Defaults to 3.
        softmax (bool): Whether the export returns softmax scores.
            Defaults to False.
        atol (float): Tolerance, see above. Defaults to 1e-4.
        seed (int, optional): Seed of the random input. Defaults to 0.

    Returns:
        dict: ``max_abs_diff``, ``max_abs_ref``, ``tolerance``, ``passed``,
        ``output_shape``.
    """
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    x = torch.randn(batch_size, 3, *shape, generator=gen)
    wrapper = ExportWrapper(model, softmax).eval().cpu()
    with torch.no_grad():
        ref = wrapper(x).numpy()
    out = load_exported(path, fmt)(x.numpy())
    if out.shape != ref.shape:
        raise RuntimeError(f'{path} returned shape {out.shape} for a batch '
                           f'of {batch_size}, PyTorch {ref.shape}')
    diff = float(np.abs(out - ref).max())
    ref_max = float(np.abs(ref).max())
    tol = atol * max(1.0, ref_max)
    return dict(
        max_abs_diff=diff,
        max_abs_ref=ref_max,
        tolerance=tol,
        passed=diff <= tol,
        output_shape=list(out.shape))
