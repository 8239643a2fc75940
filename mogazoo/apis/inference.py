"""Build a classifier from a config name or path and predict images.

    >>> import mogazoo
    >>> model = mogazoo.get_model('moganet-xtiny_1xb64_digits', 'epoch_12.pth')
    >>> model = mogazoo.get_model('moganet-tiny_8xb128_in1k', pretrained=True)
    >>> mogazoo.inference_model(model, 'data/digits/val/3/1234.png', topk=3)
    [{'label': 3, 'score': 0.97, 'class_name': '3'}, ...]
"""
import copy
import difflib
import fnmatch
import glob
import os.path as osp
import re
from os import PathLike
from pathlib import Path
from typing import List, Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DefaultScope
from mmpretrain.apis.utils import dispatch_model
from mmpretrain.registry import DATASETS, MODELS

from mogazoo.checkpoint import check_checkpoint, load_state_dict
from mogazoo.checkpoint.hub import config_dir, model_index
from mogazoo.datasets.pipeline import test_pipeline_data
from mogazoo.models.utils.compile import compile_model
from mogazoo.utils import load_config
from .aliases import mogazoo_name
from .model_hub import metainfo_for


def list_models(pattern: Optional[str] = None) -> List[str]:
    """The model names of mogazoo's model index (``model-index.yml``: every
    ImageNet config of the three families and the digits demo), the names
    ``mmpretrain.list_models`` shows after ``import mogazoo``, sorted.

    Args:
        pattern (str, optional): A wildcard pattern (``'*moganet*'``, as
            for ``mmpretrain.list_models``) or, without ``*?[``, a part of
            the name (case-insensitive). Defaults to None (all).

    Returns:
        list[str]: Names such as ``'moganet-xtiny_1xb64_digits'``.
    """
    names = sorted(model_index())
    if pattern:
        pattern = pattern.lower()
        if any(c in pattern for c in '*?['):
            names = fnmatch.filter(names, pattern)
        else:
            names = [n for n in names if pattern in n]
    return names


def _config_index():
    """Config stems under ``configs/<folder>/*.py`` (the index's names and
    the ``configs/custom`` examples) and their paths."""
    paths = sorted(glob.glob(osp.join(config_dir(), '*', '*.py')))
    return {
        osp.splitext(osp.basename(p))[0]: p
        for p in paths if osp.basename(osp.dirname(p)) != '_base_'
    }


def find_config(name_or_path: str) -> str:
    """Path of a config given as a path or as a config stem.

    Args:
        name_or_path (str): A config file (``.py``) or the stem of one under
            ``configs/`` (see :func:`list_models`).

    Returns:
        str: The config file path.

    Raises:
        FileNotFoundError: A ``.py`` path that does not exist.
        ValueError: An unknown name; the message lists close matches.
    """
    if name_or_path.endswith('.py') or osp.isfile(name_or_path):
        if not osp.isfile(name_or_path):
            raise FileNotFoundError(f'Config file not found: {name_or_path}')
        return name_or_path
    index = _config_index()
    name_or_path = mogazoo_name(name_or_path)
    entry = model_index().get(name_or_path.lower())
    if entry is not None:
        return entry['config']
    if name_or_path in index:
        return index[name_or_path]
    close = difflib.get_close_matches(name_or_path, index, n=5, cutoff=0.5)
    hint = f'; close matches: {", ".join(close)}' if close else ''
    raise ValueError(f'Unknown model name {name_or_path!r} (neither a '
                     f'classification config stem under {config_dir()} nor '
                     f'a file){hint}')


def dataset_classes(cfg, split: str = 'test') -> Optional[tuple]:
    """Class names of a config's ``{split}_dataloader`` dataset: its config's
    ``classes`` or ``metainfo``, the dataset class's ``METAINFO`` (e.g.
    ImageNet), or else, when its ``data_root`` folder exists, those of the
    dataset built there (e.g. the class folders of an image folder).

    Args:
        cfg (Config): The config.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
            Defaults to ``'test'``.

    Returns:
        tuple[str] | None: The names, or None when none can be found.
    """
    ds = (cfg.get(f'{split}_dataloader') or {}).get('dataset') or {}
    while 'dataset' in ds:  # wrappers (RepeatDataset, ClassBalanced...)
        ds = ds['dataset']
    classes = ds.get('classes') or (ds.get('metainfo') or {}).get('classes')
    if not classes and ds.get('type') is not None:
        ds_cls = ds['type'] if isinstance(ds['type'], type) else \
            DATASETS.get(ds['type'])
        classes = getattr(ds_cls, 'METAINFO', {}).get('classes')
    root = ds.get('data_root')
    if not classes and isinstance(root, str) and osp.isdir(root):
        try:
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                classes = DATASETS.build(dict(
                    ds, pipeline=[])).metainfo.get('classes')
        except Exception:  # noqa: BLE001 - names are optional: a folder
            classes = None  # the dataset cannot read gives none
    return tuple(classes) if classes else None


def resolve_pretrained(pretrained, name: str, weights=None, cfg=None):
    """``pretrained=True`` as a checkpoint path or URL: the metafile's
    weights, else the config's ``load_from``. False/None give None.

    Raises:
        ValueError: True for a model that has neither.
    """
    if pretrained is True:
        pretrained = weights or (cfg.get('load_from') if cfg else None)
        if not pretrained:
            raise ValueError(
                f'{name} has no published weights (no Weights in its '
                'metafile entry, no load_from in its config): pass '
                'pretrained=<checkpoint path or URL>, e.g. the checkpoint '
                'your training wrote')
    return pretrained or None


def classes_of(meta: dict, cfg) -> tuple:
    """Class names: the checkpoint meta's, else the config dataset's."""
    classes = (meta.get('dataset_meta') or {}
               ).get('classes') or meta.get('CLASSES') or dataset_classes(cfg)
    return tuple(classes) if classes else ()


def get_model(name_or_config: str,
              pretrained: Union[bool, str, None] = None,
              device: Union[str, torch.device] = 'cpu',
              checkpoint: Optional[str] = None,
              compile: Union[bool, dict] = False,
              **cfg_options) -> torch.nn.Module:
    """Build a mogazoo classifier in eval mode.

    Args:
        name_or_config (str): A model name (see :func:`list_models`), an
            official implementation's name (``moganet_tiny``,
            ``faster_vit_0_224``, ``dgmn2_tiny``: see
            :mod:`mogazoo.apis.aliases`), a config stem under ``configs/``
            or a config file path.
        pretrained (bool | str, optional): The weights. True: the official
            weights of the name's metafile entry (downloaded once to
            ``$MOGAZOO_HOME/checkpoints``, hash-checked, converted once and
            cached, see :mod:`mogazoo.checkpoint.hub`) or the config's
            ``load_from``. A path or URL: that checkpoint, official
            (converted) or mogazoo's. It loads strictly: keys and shapes
            must match, else :class:`CheckpointMismatchError` says how
            they differ. None or
            False keep the weights the model is built with. Defaults to
            None.
        device (str | torch.device): Device of the model. Defaults to 'cpu'.
        checkpoint (str, optional): Another name for a ``pretrained`` path
            (the argument's former name). Defaults to None.
        compile (bool | dict): ``torch.compile`` what the classifier
            computes (backbone, neck and head, as ``--compile`` does: see
            :func:`mogazoo.models.utils.compile.compile_model`), after the
            weights are loaded; True or ``torch.compile`` keyword arguments.
            The first call at each input size compiles (tens of seconds on
            a CPU). Defaults to False.
        **cfg_options: Merged into the config first, as ``--cfg-options``:
            nested dicts (``model=dict(head=dict(num_classes=5))``) or dotted
            keys (``**{'model.head.num_classes': 5}``).

    Returns:
        nn.Module: The classifier, with ``model.cfg`` (the config) and
        ``model.dataset_meta`` (``{'classes': (...)}`` from the checkpoint's
        meta, else from the config's dataset, see :func:`dataset_classes`;
        ``{}`` when neither has them), and the attributes mmpretrain's
        inferencers read (``_config``, ``_dataset_meta``, ``_metainfo``).
    """
    if checkpoint is not None:
        if pretrained not in (None, False):
            raise ValueError('pass the checkpoint as pretrained= or as '
                             'checkpoint=, not both')
        pretrained = checkpoint
    config = find_config(name_or_config)
    cfg = load_config(config, cfg_options)
    metainfo = metainfo_for(config_path=config)
    pretrained = resolve_pretrained(pretrained, name_or_config,
                                    metainfo.weights, cfg)
    if pretrained is not None and '://' not in str(pretrained):
        check_checkpoint(pretrained)
    cfg.model.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    if torch.device(device).type == 'cpu':
        model = revert_sync_batchnorm(model)
    meta = load_state_dict(
        model, pretrained, 'strict', f'the model of {name_or_config}') \
        if pretrained is not None else {}
    classes = classes_of(meta, cfg)
    model.dataset_meta = {'classes': classes} if classes else {}
    model.cfg = model._config = cfg
    model._dataset_meta = dict(model.dataset_meta)
    model._metainfo = metainfo
    model = model.to(device).eval()
    if compile:
        compile_model(model, compile)
    return model


def inference_model(model: torch.nn.Module,
                    image: Union[str, np.ndarray],
                    topk: int = 5) -> List[dict]:
    """Top-k predictions of a classifier from :func:`get_model` for one
    image, through the config's test pipeline and data preprocessor.

    Args:
        model (nn.Module): A classifier built by :func:`get_model` (it needs
            ``model.cfg``).
        image (str | np.ndarray): An image file, or an ``H x W x 3`` array
            in **BGR** channel order (as ``cv2.imread`` / ``mmcv.imread``
            return it and as the pipeline loads files), ``uint8`` 0-255.
        topk (int): How many predictions; at most the number of classes.
            Defaults to 5.

    Returns:
        list[dict]: Best first, each ``{'label': int, 'score': float,
        'class_name': str | None}`` (softmax scores).
    """
    if not hasattr(model, 'cfg'):
        raise ValueError('model has no .cfg: build it with mogazoo.get_model')
    if isinstance(topk, bool) or not isinstance(topk, int) or topk < 1:
        raise ValueError(f'topk must be a positive int, got {topk!r}')
    data = test_pipeline_data(model, image)
    with torch.no_grad():
        [sample] = model.test_step(pseudo_collate([data]))
    scores = sample.pred_score.float().cpu()
    values, labels = scores.topk(min(topk, scores.numel()))
    classes = model.dataset_meta.get('classes')
    return [
        dict(
            label=int(i),
            score=float(v),
            class_name=str(classes[i]) if classes else None)
        for v, i in zip(values, labels)
    ]


def _types(node):
    """Every ``type`` of a (nested) config dict."""
    if isinstance(node, dict):
        if 'type' in node:
            yield node['type']
        for value in node.values():
            yield from _types(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _types(value)


def is_mogazoo_config(cfg) -> bool:
    """Whether a config's ``model`` uses a module mogazoo registers."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        for type_ in _types(cfg.get('model') or {}):
            if isinstance(type_, str):
                try:
                    type_ = MODELS.get(type_)
                except Exception:  # noqa: BLE001 - other scope / unknown
                    type_ = None
            if getattr(type_, '__module__', '').startswith('mogazoo.'):
                return True
    return False


def mmpretrain_get_model(original,
                         model,
                         pretrained=False,
                         device=None,
                         device_map=None,
                         offload_folder=None,
                         url_mapping=None,
                         **kwargs):
    """``mmpretrain.get_model`` with mogazoo's rules for mogazoo models
    (what ``mmpretrain.get_model`` is after ``import mogazoo``, see
    :mod:`mogazoo.compat`).

    Same arguments and result as ``mmpretrain.get_model``, after
    ``original`` (mmpretrain's own, which any other model goes to). For a
    model that uses a mogazoo module (a mogazoo name, a config using its
    backbones):

    - ``pretrained=True`` is the metafile's official weights (downloaded to
      :func:`mogazoo.checkpoint.hub.checkpoint_dir`, checked, converted
      once) or the config's ``load_from``; a model with neither is an
      error;
    - a path or URL, official or converted, loads **strictly**;
    - ``model._metainfo`` is set for a config path too (its index entry,
      or an image-classification entry), and ``model._dataset_meta`` holds
      the class names of the checkpoint or the config's dataset.
    """
    if isinstance(model, Config):
        cfg, name, metainfo = copy.deepcopy(model), None, None
    elif isinstance(model, (str, PathLike)) and Path(model).suffix == '.py':
        cfg, name, metainfo = Config.fromfile(model), str(model), None
    elif isinstance(model, str):
        if model.lower() not in model_index():
            return original(model, pretrained, device, device_map,
                            offload_folder, url_mapping, **kwargs)
        name = model.lower()
        metainfo = metainfo_for(name=name)
        cfg = metainfo.config
    else:
        return original(model, pretrained, device, device_map, offload_folder,
                        url_mapping, **kwargs)
    if not is_mogazoo_config(cfg):
        return original(model, pretrained, device, device_map, offload_folder,
                        url_mapping, **kwargs)
    if metainfo is None:
        metainfo = metainfo_for(config_path=name)
    label = name or metainfo.name
    pretrained = resolve_pretrained(pretrained, label, metainfo.weights, cfg)
    if pretrained and url_mapping is not None:
        pretrained = re.sub(url_mapping[0], url_mapping[1], pretrained)
    built = original(cfg, False, None, None, None, None, **kwargs)
    meta = load_state_dict(built, pretrained, 'strict',
                           f'the model of {label}') if pretrained else {}
    classes = classes_of(meta, built._config)
    if classes:
        built._dataset_meta = dict(built._dataset_meta, classes=classes)
    built._metainfo = metainfo
    if device_map is not None:
        built = dispatch_model(
            built, device_map=device_map, offload_folder=offload_folder)
    elif device is not None:
        built.to(device)
    return built.eval()
