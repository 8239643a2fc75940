"""Class activation maps (Grad-CAM and kin) of mogazoo classifiers.

Built on the ``grad-cam`` package (``pip install grad-cam``, listed in
``requirements/optional.txt``; imported when a CAM is computed). The image
goes through the config's test pipeline and data preprocessor, as
:func:`mogazoo.inference_model` does, so the CAM is at the model's input
size (e.g. 32x32 for the digits demo, whatever the image's size).

    >>> import mogazoo
    >>> from mogazoo.visualization import compute_cam, save_cam
    >>> model = mogazoo.get_model('moganet-xtiny_1xb64_digits', 'epoch_12.pth')
    >>> result = compute_cam(model, 'data/digits/val/3/1234.png')
    >>> result.cam.shape, result.label, result.target_layers
    ((32, 32), 3, ['backbone.stages.3'])
    >>> save_cam(result, 'cam.png')

Target layers are dotted module names of the classifier. The default,
:func:`default_target_layers`, is the last stage of the backbone:
``backbone.stages.<last>`` for MogaNet (an ``nn.Sequential``) and FasterViT
(a ``FasterViTStage``), whose outputs are ``(B, C, H, W)`` maps, and the
last block ``backbone.stages.<last>.<depth - 1>`` for DGMN2, whose stages
are ``nn.ModuleList`` s the backbone iterates (never called themselves) and
whose blocks take and return tokens ``(B, N, C)`` with an ``hw_shape``
argument. A layer output is handled thus:

- a tuple or list (e.g. a whole backbone, or a FasterViT block's ``(x,
  carrier tokens)``): its first tensor is the activation;
- ``(B, C, H, W)``: as is;
- ``(B, N, C)`` tokens: reshaped to ``(B, C, h, w)``, ``(h, w)`` taken from
  an ``hw_shape`` argument of the layer's call when it has one (DGMN2
  blocks), else the factorization of ``N`` closest to the input's aspect
  ratio;
- anything else (pooled ``(B, C)`` features, FasterViT's window-partitioned
  tokens ``(B * windows, w * w, C)``): a ``ValueError`` naming the layer.

At small inputs the last stage can have a 1x1 map (MogaNet at 32x32): the
CAM is then flat (all zero) and a warning says so; choose an earlier stage
(``backbone.stages.1``) or a larger input.
"""
import difflib
import math
import os
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.dataset import pseudo_collate
from PIL import Image

from mogazoo.datasets.pipeline import test_pipeline_data

#: ``--method`` names and the grad-cam classes they use.
METHODS = {
    'gradcam': 'GradCAM',
    'gradcam++': 'GradCAMPlusPlus',
    'layercam': 'LayerCAM',
    'eigencam': 'EigenCAM',
}


@dataclass
class CAMResult:
    """The CAM of one image.

    Attributes:
        cam (np.ndarray): The raw map, ``H x W`` float32 in ``[0, 1]`` (the
            model's input size; min-max scaled, all zero when flat).
        image (np.ndarray): The model's input as seen (after the test
            pipeline), ``H x W x 3`` uint8, RGB.
        overlay (np.ndarray): ``cam`` in the jet colormap blended over
            ``image``, ``H x W x 3`` uint8, RGB.
        label (int): The class the CAM explains.
        score (float): The softmax score of ``label``.
        pred_label (int): The predicted class.
        pred_score (float): Its softmax score.
        class_name (str, optional): The name of ``label``, if known.
        target_layers (list[str]): The layers (dotted names).
        feature_sizes (list[tuple]): ``(h, w)`` of each layer's map.
        method (str): The method (a key of :data:`METHODS`).
    """
    cam: np.ndarray
    image: np.ndarray
    overlay: np.ndarray
    label: int
    score: float
    pred_label: int
    pred_score: float
    class_name: Optional[str] = None
    target_layers: List[str] = field(default_factory=list)
    feature_sizes: List[tuple] = field(default_factory=list)
    method: str = 'gradcam'


def _grad_cam():
    """The ``pytorch_grad_cam`` module, or an ImportError saying how to
    install it."""
    try:
        # lazy: an optional / heavy dependency, imported on use
        import pytorch_grad_cam
    except ImportError as exc:
        raise ImportError(
            'Class activation maps need the grad-cam package: pip install '
            'grad-cam (or pip install -r requirements/optional.txt)') from exc
    return pytorch_grad_cam


def _is_index(value) -> bool:
    """Whether ``value`` is an int >= 0 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and \
        value >= 0


def default_target_layers(model: nn.Module, stage: int = -1) -> List[str]:
    """The default CAM layer of a classifier: the last stage of its
    backbone, or the last block of that stage when the stage is an
    ``nn.ModuleList`` the backbone iterates (DGMN2).

    Args:
        model (nn.Module): A classifier with a ``backbone`` that has
            ``stages`` (every mogazoo backbone).
        stage (int): The stage (Python index). Defaults to -1, the last.

    Returns:
        list[str]: One dotted module name, e.g. ``['backbone.stages.3']``.

    Raises:
        ValueError: The model has no ``backbone.stages`` (pass
            ``target_layers``).
    """
    stages = getattr(getattr(model, 'backbone', None), 'stages', None)
    if not isinstance(stages, (nn.ModuleList, nn.Sequential)) or \
            len(stages) == 0:
        raise ValueError(f'{type(model).__name__} has no backbone.stages: '
                         'give the target layers by name')
    if not -len(stages) <= stage < len(stages):
        raise ValueError(f'stage {stage} is out of range: the backbone has '
                         f'{len(stages)} stages')
    index = stage % len(stages)
    name, stage = f'backbone.stages.{index}', stages[index]
    while isinstance(stage, nn.ModuleList):  # iterated, never called
        if len(stage) == 0:
            raise ValueError(f'{name} is empty: give the target layers by '
                             'name')
        name, stage = f'{name}.{len(stage) - 1}', stage[len(stage) - 1]
    return [name]


def informative_target_layers(model: nn.Module,
                              image: Union[str, np.ndarray]) -> List[str]:
    """The deepest stage (as :func:`default_target_layers` names it) whose
    map for ``image`` at the model's input size has more than one cell.

    The last stage of a stride-32 backbone is 1x1 at a 32x32 input (the
    digits demo), where any CAM is flat; there the stride-16 stage is the
    deepest map that can localise. One forward pass measures the sizes.

    Args:
        model (nn.Module): A classifier from :func:`mogazoo.get_model`.
        image (str | np.ndarray): An image file or ``H x W x 3`` BGR array.

    Returns:
        list[str]: One dotted module name.
    """
    num_stages = len(model.backbone.stages)
    names = [default_target_layers(model, i)[0] for i in range(num_stages)]
    inputs, _ = preprocess(model, image)
    shared = dict(batch=1, input_hw=tuple(inputs.shape[2:]), token_hw={})
    taps = [_Tap(name, shared) for name in names]
    handles = [
        get_layer(model, name).register_forward_hook(_tap_hook(tap))
        for name, tap in zip(names, taps)
    ]
    try:
        with torch.no_grad():
            _Scores(model)(inputs)
    finally:
        for handle in handles:
            handle.remove()
    for tap in reversed(taps):
        if tap.size is not None and tap.size[0] * tap.size[1] > 1:
            return [tap.name]
    return [names[-1]]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule of ``model`` named ``name`` (dotted, as in
    ``model.named_modules()``).

    Args:
        model (nn.Module): The classifier.
        name (str): E.g. ``'backbone.stages.3'``.

    Returns:
        nn.Module: The module.

    Raises:
        ValueError: No such module; the message lists the children of the
            longest part of the name that exists and the closest names.
    """
    modules = dict(model.named_modules())
    if name in modules and name:
        return modules[name]
    parts = name.split('.')
    parent = ''
    for i in range(len(parts) - 1, 0, -1):
        if '.'.join(parts[:i]) in modules:
            parent = '.'.join(parts[:i])
            break
    children = [
        f'{parent}.{child}' if parent else child
        for child, _ in modules[parent].named_children()
    ]
    shown = ', '.join(children[:20]) + (', ...' if len(children) > 20 else '')
    close = difflib.get_close_matches(name, list(modules)[1:], n=5)
    msg = f'No module {name!r} in the model'
    msg += f'; {parent!r} has: {shown}' if parent else \
        f'; its top-level modules: {shown}'
    if close:
        msg += f'; closest names: {", ".join(close)}'
    raise ValueError(msg)


def _hw_of_tokens(n, input_hw):
    """``(h, w)`` with ``h * w == n`` whose aspect ratio is the closest to
    ``input_hw``'s."""
    ratio = math.log(input_hw[0] / input_hw[1])
    pairs = [(h, n // h) for h in range(1, n + 1) if n % h == 0]
    return min(pairs, key=lambda p: abs(math.log(p[0] / p[1]) - ratio))


class _Tap(nn.Module):
    """An identity that a hook on a target layer runs the layer's
    activation through, so that grad-cam, hooked on the tap, always sees
    one tensor; checks its layout and notes the ``(h, w)`` of tokens."""

    def __init__(self, name, shared):
        super().__init__()
        self.name, self.shared = name, shared
        self.hw_arg = None  # (h, w) passed to the layer's call, if any
        self.size = None  # (h, w) of the map
        self.called = False  # set by the hook on the layer

    def forward(self, x):
        batch, input_hw = self.shared['batch'], self.shared['input_hw']
        if x.dim() == 4 and x.shape[0] == batch:
            self.size = tuple(x.shape[2:])
        elif x.dim() == 3 and x.shape[0] == batch:
            n = x.shape[1]
            hw = self.hw_arg if self.hw_arg is not None and \
                self.hw_arg[0] * self.hw_arg[1] == n else \
                _hw_of_tokens(n, input_hw)
            self.size = tuple(hw)
            self.shared['token_hw'][n] = self.size
        else:
            raise ValueError(
                f'Target layer {self.name!r} returns a tensor of shape '
                f'{tuple(x.shape)} for a batch of {batch} image(s): neither '
                'a (B, C, H, W) map nor (B, N, C) tokens (windowed or '
                'pooled features); choose another layer, e.g. the stage '
                'that holds it')
        return x


def _hw_argument(args):
    """An ``(h, w)`` pair of ints among a call's positional arguments."""
    for arg in args[1:]:
        if isinstance(arg, (tuple, list, torch.Size)) and len(arg) == 2 and \
                all(isinstance(v, int) for v in arg):
            return tuple(arg)
    return None


def _tap_hook(tap):
    """A forward hook that passes the layer's activation (its output, or
    the output's first tensor) through ``tap``."""

    def hook(module, args, output):
        tap.hw_arg = _hw_argument(args)
        tap.called = True
        if isinstance(output, torch.Tensor):
            return tap(output)
        if isinstance(output, (tuple, list)):
            for i, item in enumerate(output):
                if isinstance(item, torch.Tensor):
                    out = list(output)
                    out[i] = tap(item)
                    return type(output)(out) if isinstance(output, list) \
                        else tuple(out)
        raise ValueError(f'Target layer {tap.name!r} returns '
                         f'{type(output).__name__}, not a tensor or a '
                         'tuple of tensors')

    return hook


class _Scores(nn.Module):
    """The classifier's class scores (logits) for a batch of inputs."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        out = self.model(x, mode='tensor')
        if isinstance(out, (tuple, list)):
            out = out[0]
        if not isinstance(out, torch.Tensor) or out.dim() != 2:
            raise ValueError('The model does not return class scores (B, '
                             'num_classes) in tensor mode: a classifier '
                             'with a head is needed')
        return out


def _reshape_transform(shared):
    """grad-cam's ``reshape_transform``: tokens ``(B, N, C)`` to ``(B, C,
    h, w)`` with the ``(h, w)`` the taps noted for ``N``."""

    def transform(x):
        if x.dim() != 3:
            return x
        h, w = shared['token_hw'][x.shape[1]]
        return x.reshape(x.shape[0], h, w, x.shape[2]).permute(0, 3, 1, 2)

    return transform


def preprocess(model: nn.Module, image: Union[str, np.ndarray]):
    """An image through the config's test pipeline and the model's data
    preprocessor.

    Args:
        model (nn.Module): A classifier from :func:`mogazoo.get_model` (with
            ``model.cfg``).
        image (str | np.ndarray): An image file, or an ``H x W x 3`` uint8
            array in BGR order (as ``mmcv.imread`` returns it).

    Returns:
        tuple[torch.Tensor, np.ndarray]: The model input ``(1, 3, H, W)``
        and the image it shows, ``H x W x 3`` uint8 RGB.

    Raises:
        FileNotFoundError: A missing image file.
        ValueError: A model without ``cfg`` or an array that is not
            ``H x W x 3``.
    """

    if not hasattr(model, 'cfg'):
        raise ValueError('model has no .cfg: build it with mogazoo.get_model')
    data = test_pipeline_data(model, image)
    shown = data['inputs']
    batch = model.data_preprocessor(pseudo_collate([data]), False)
    inputs = batch['inputs']
    shown = shown.cpu().numpy().transpose(1, 2, 0)
    if shown.shape[2] == 3:  # the pipeline loads BGR
        shown = shown[..., ::-1]
    else:
        shown = np.repeat(shown[..., :1], 3, axis=2)
    shown = np.ascontiguousarray(np.clip(shown, 0, 255).astype(np.uint8))
    if shown.shape[:2] != tuple(inputs.shape[2:]):  # padded by the
        shown = np.asarray(
            Image.fromarray(shown).resize((inputs.shape[3], inputs.shape[2]),
                                          Image.BILINEAR))
    return inputs, shown


def overlay_cam(image: np.ndarray,
                cam: np.ndarray,
                alpha: float = 0.5,
                colormap: str = 'jet') -> np.ndarray:
    """A CAM as a heat map over an image.

    Args:
        image (np.ndarray): ``H x W x 3`` uint8 RGB.
        cam (np.ndarray): ``H x W`` in ``[0, 1]``.
        alpha (float): Weight of the heat map (``1 - alpha`` of the image).
            Defaults to 0.5.
        colormap (str): A matplotlib colormap. Defaults to 'jet'.

    Returns:
        np.ndarray: ``H x W x 3`` uint8 RGB.
    """
    # lazy: an optional / heavy dependency, imported on use
    from matplotlib import colormaps
    if image.shape[:2] != cam.shape:
        raise ValueError(f'image {image.shape[:2]} and cam {cam.shape} '
                         'sizes differ')
    heat = colormaps[colormap](np.clip(cam, 0, 1))[..., :3]
    out = (1 - alpha) * image.astype(np.float32) / 255 + alpha * heat
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


def compute_cams(model: nn.Module,
                 images: Sequence[Union[str, np.ndarray]],
                 method: str = 'gradcam',
                 target_layers: Optional[Sequence[str]] = None,
                 target_category: Optional[int] = None,
                 aug_smooth: bool = False,
                 eigen_smooth: bool = False,
                 alpha: float = 0.5) -> List[CAMResult]:
    """Class activation maps of a classifier for images.

    Args:
        model (nn.Module): A classifier from :func:`mogazoo.get_model` (with
            ``model.cfg``, for the test pipeline).
        images (Sequence[str | np.ndarray]): Image files or ``H x W x 3``
            uint8 BGR arrays, of any size (the test pipeline resizes them).
        method (str): A key of :data:`METHODS`. Defaults to 'gradcam'.
        target_layers (Sequence[str], optional): Dotted module names, e.g.
            ``['backbone.stages.2']``; several are averaged. Defaults to
            None (:func:`default_target_layers`).
        target_category (int, optional): The class to explain. Defaults to
            None (the predicted class of each image).
        aug_smooth (bool): grad-cam's test-time augmentation smoothing
            (flips and scalings; 6 passes). Defaults to False.
        eigen_smooth (bool): grad-cam's first-principal-component
            smoothing. Defaults to False.
        alpha (float): Heat map weight of the overlay. Defaults to 0.5.

    Returns:
        list[CAMResult]: One per image.

    Raises:
        ImportError: grad-cam is not installed.
        FileNotFoundError: A missing image file.
        ValueError: An unknown method or layer (the message lists the
            choices), a layer the forward pass does not call or whose
            output has no spatial layout, a target category out of range.
    """
    cam_module = _grad_cam()
    if method not in METHODS:
        raise ValueError(f'Unknown CAM method {method!r}; choose one of '
                         f'{", ".join(METHODS)}')
    if target_category is not None and not _is_index(target_category):
        raise ValueError('target_category must be a class index >= 0, got '
                         f'{target_category!r}')
    names = list(target_layers) if target_layers else \
        default_target_layers(model)
    layers = [get_layer(model, name) for name in names]
    for image in images:  # missing files first, before any work
        if isinstance(image, str) and not osp.isfile(image):
            raise FileNotFoundError(f'Image not found: {image}')
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    # lazy: an optional / heavy dependency, imported on use
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    shared = dict(batch=1, input_hw=None, token_hw={})
    taps = [_Tap(name, shared) for name in names]
    handles = [
        layer.register_forward_hook(_tap_hook(tap))
        for layer, tap in zip(layers, taps)
    ]
    scores_model = _Scores(model)
    cam = getattr(cam_module, METHODS[method])(
        model=scores_model,
        target_layers=taps,
        reshape_transform=_reshape_transform(shared))
    results = []
    try:
        for image in images:
            inputs, shown = preprocess(model, image)
            shared['input_hw'] = tuple(inputs.shape[2:])
            for tap in taps:
                tap.called = False
            with torch.no_grad():
                scores = scores_model(inputs).float().softmax(-1)[0].cpu()
            for tap, layer in zip(taps, layers):
                if not tap.called:
                    children = [n for n, _ in layer.named_children()]
                    hint = f', e.g. {tap.name}.{children[-1]}' \
                        if children else ''
                    raise ValueError(
                        f'Target layer {tap.name!r} is not called in the '
                        'forward pass (a container the model iterates); '
                        f'choose one of its blocks{hint}')
            num_classes = scores.numel()
            if target_category is not None and \
                    target_category >= num_classes:
                raise ValueError(f'target_category {target_category} is out '
                                 f'of range: the model has {num_classes} '
                                 'classes')
            pred = int(scores.argmax())
            label = pred if target_category is None else target_category
            inputs = inputs.clone().requires_grad_(True)  # frozen backbones
            grey = cam(
                input_tensor=inputs,
                targets=[ClassifierOutputTarget(label)],
                aug_smooth=aug_smooth,
                eigen_smooth=eigen_smooth)[0]
            grey = np.clip(np.nan_to_num(grey.astype(np.float32)), 0, 1)
            sizes = [tap.size for tap in taps]
            if all(s == (1, 1) for s in sizes):
                warnings.warn(
                    f'The target layers {names} have a 1x1 map at the input '
                    f'size {shared["input_hw"]}: the CAM is flat; choose an '
                    'earlier stage or a larger input')
            results.append(
                CAMResult(
                    cam=grey,
                    image=shown,
                    overlay=overlay_cam(shown, grey, alpha),
                    label=label,
                    score=float(scores[label]),
                    pred_label=pred,
                    pred_score=float(scores[pred]),
                    class_name=str(classes[label])
                    if classes and label < len(classes) else None,
                    target_layers=names,
                    feature_sizes=sizes,
                    method=method))
    finally:
        for handle in handles:
            handle.remove()
        cam.activations_and_grads.release()
        model.zero_grad(set_to_none=True)
    return results


def compute_cam(model: nn.Module, image: Union[str, np.ndarray],
                **kwargs) -> CAMResult:
    """The class activation map of one image: :func:`compute_cams` of
    ``[image]`` (same keyword arguments).

    Args:
        model (nn.Module): A classifier from :func:`mogazoo.get_model`.
        image (str | np.ndarray): An image file or an ``H x W x 3`` uint8
            BGR array.
        **kwargs: ``method``, ``target_layers``, ``target_category``,
            ``aug_smooth``, ``eigen_smooth``, ``alpha``.

    Returns:
        CAMResult: Its ``cam`` is the raw ``H x W`` map in ``[0, 1]``.
    """
    return compute_cams(model, [image], **kwargs)[0]


def save_cam(result: CAMResult, path: str) -> str:
    """Write the overlay of a :class:`CAMResult` as a PNG (the folder is
    created).

    Args:
        result (CAMResult): The CAM.
        path (str): Output file; PNG whatever its extension.

    Returns:
        str: ``path``.
    """
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(result.overlay).save(path, format='PNG')
    return path
