"""mogazoo's models by name in mmpretrain: ``ModelHub``, ``get_model``, the
inferencers and ``inference_model``.

``import mogazoo`` calls :func:`install`, which

- registers mogazoo's ``model-index.yml`` with mmpretrain's ``ModelHub``, so
  ``mmpretrain.list_models('*moganet*')`` lists mogazoo's names and every
  name-taking API of mmpretrain accepts them;
- puts :func:`get_model` in place of ``mmpretrain.get_model`` (and of the
  name the inferencers call). For a model with a mogazoo module it loads
  ``pretrained`` **strictly** (a checkpoint that does not fit is an error
  with a summary, where mmpretrain only logs the missing keys), resolves
  ``pretrained=True`` to the official weights (downloaded, hash-checked,
  converted and cached by :mod:`mogazoo.hub`), and gives a model built from
  a config path the metainfo and class names that
  ``mmpretrain.inference_model`` needs. Any other model goes to
  mmpretrain's own ``get_model`` unchanged.

Import mogazoo before ``from mmpretrain import get_model`` binds the name.
"""
import copy
import os.path as osp
import re
from os import PathLike
from pathlib import Path

_ORIGINAL = None
_REGISTERED = False


def register_model_index() -> None:
    """Register ``model-index.yml`` with mmpretrain's ``ModelHub`` (once)."""
    global _REGISTERED
    if _REGISTERED:
        return
    from mmpretrain.apis import ModelHub

    from mogazoo.hub import model_index, package_root
    if not any(ModelHub.has(name) for name in model_index()):
        root = package_root()
        ModelHub.register_model_index(
            osp.join(root, 'model-index.yml'), config_prefix=root)
    _REGISTERED = True


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
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
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


def metainfo_for(config_path: str = None, name: str = None):
    """The ``ModelHub`` metainfo of a mogazoo name or config file, or one
    made for a config outside the index (an image-classification task, so
    that ``mmpretrain.inference_model`` picks its inferencer)."""
    from mmpretrain.apis import ModelHub
    from modelindex.models.Model import Model

    from mogazoo.hub import model_index
    index = model_index()
    if name is None and config_path is not None:
        real = osp.realpath(config_path)
        name = next(
            (n for n, e in index.items() if osp.realpath(e['config']) == real),
            None)
    if name is not None and name in index:
        register_model_index()
        return ModelHub.get(name)
    stem = osp.splitext(osp.basename(str(config_path or name)))[0]
    return Model(
        name=stem,
        config=config_path,
        results=[
            dict(Task='Image Classification', Dataset='custom', Metrics={})
        ])


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


def load_strict(model, pretrained: str, target: str) -> dict:
    """Load a checkpoint (path or URL, official or converted) into
    ``model`` strictly, through mogazoo's loaders (conversion, cache).

    Returns:
        dict: The checkpoint's ``meta`` (``{}`` when it has none).

    Raises:
        CheckpointMismatchError: Keys or shapes do not fit; the message
            sums up how.
    """
    from mmengine.runner.checkpoint import _load_checkpoint

    from mogazoo.utils.checkpoint_fit import check_fit
    ckpt = _load_checkpoint(pretrained, map_location='cpu', logger='silent')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    state = {
        k[len('module.'):] if k.startswith('module.') else k: v
        for k, v in state.items()
    }
    model.load_state_dict(
        check_fit(model.state_dict(), state, 'strict', str(pretrained),
                  target))
    return (ckpt.get('meta') or {}) if isinstance(ckpt, dict) else {}


def classes_of(meta: dict, cfg) -> tuple:
    """Class names: the checkpoint meta's, else the config dataset's."""
    from .inference import dataset_classes
    classes = (meta.get('dataset_meta') or {}
               ).get('classes') or meta.get('CLASSES') or dataset_classes(cfg)
    return tuple(classes) if classes else ()


def get_model(model,
              pretrained=False,
              device=None,
              device_map=None,
              offload_folder=None,
              url_mapping=None,
              **kwargs):
    """``mmpretrain.get_model`` with mogazoo's rules for mogazoo models.

    Same arguments and result as ``mmpretrain.get_model``. For a model that
    uses a mogazoo module (a mogazoo name, a config using its backbones):

    - ``pretrained=True`` is the metafile's official weights (downloaded to
      :func:`mogazoo.hub.checkpoint_dir`, checked, converted once) or the
      config's ``load_from``; a model with neither is an error;
    - a path or URL, official or converted, loads **strictly**;
    - ``model._metainfo`` is set for a config path too (its index entry,
      or an image-classification entry), and ``model._dataset_meta`` holds
      the class names of the checkpoint or the config's dataset.
    """
    from mmengine.config import Config
    if isinstance(model, Config):
        cfg, name, metainfo = copy.deepcopy(model), None, None
    elif isinstance(model, (str, PathLike)) and Path(model).suffix == '.py':
        cfg, name, metainfo = Config.fromfile(model), str(model), None
    elif isinstance(model, str):
        from mogazoo.hub import model_index
        if model.lower() not in model_index():
            return _ORIGINAL(model, pretrained, device, device_map,
                             offload_folder, url_mapping, **kwargs)
        name = model.lower()
        metainfo = metainfo_for(name=name)
        cfg = metainfo.config
    else:
        return _ORIGINAL(model, pretrained, device, device_map, offload_folder,
                         url_mapping, **kwargs)
    if not is_mogazoo_config(cfg):
        return _ORIGINAL(model, pretrained, device, device_map, offload_folder,
                         url_mapping, **kwargs)
    if metainfo is None:
        metainfo = metainfo_for(config_path=name)
    label = name or metainfo.name
    pretrained = resolve_pretrained(pretrained, label, metainfo.weights, cfg)
    if pretrained and url_mapping is not None:
        pretrained = re.sub(url_mapping[0], url_mapping[1], pretrained)
    built = _ORIGINAL(cfg, False, None, None, None, None, **kwargs)
    meta = load_strict(built, pretrained, f'the model of {label}') \
        if pretrained else {}
    classes = classes_of(meta, built._config)
    if classes:
        built._dataset_meta = dict(built._dataset_meta, classes=classes)
    built._metainfo = metainfo
    if device_map is not None:
        from mmpretrain.apis.utils import dispatch_model
        built = dispatch_model(
            built, device_map=device_map, offload_folder=offload_folder)
    elif device is not None:
        built.to(device)
    return built.eval()


def install() -> None:
    """Register the model index and put :func:`get_model` in place of
    mmpretrain's (idempotent)."""
    global _ORIGINAL
    register_model_index()
    import mmpretrain
    import mmpretrain.apis
    import mmpretrain.apis.base
    import mmpretrain.apis.model
    if _ORIGINAL is None:
        _ORIGINAL = mmpretrain.apis.model.get_model
    for module in (mmpretrain, mmpretrain.apis, mmpretrain.apis.model,
                   mmpretrain.apis.base):
        module.get_model = get_model
