"""mogazoo's models by name in mmpretrain's ``ModelHub``.

``import mogazoo`` calls :func:`register_model_index` (mmpretrain's public
``ModelHub.register_model_index``), so ``mmpretrain.list_models('*moganet*')``
lists mogazoo's names and every name-taking API of mmpretrain
(``mmpretrain.get_model``, the inferencers) accepts them; their loading
rules are :func:`mogazoo.apis.inference.mmpretrain_get_model`'s
(:mod:`mogazoo.compat`).
"""
import os.path as osp

from mmpretrain.apis import ModelHub
from modelindex.models.Model import Model

from mogazoo.checkpoint.hub import model_index, package_root

_REGISTERED = False


def register_model_index() -> None:
    """Register ``model-index.yml`` with mmpretrain's ``ModelHub`` (once)."""
    global _REGISTERED
    if _REGISTERED:
        return
    if not any(ModelHub.has(name) for name in model_index()):
        root = package_root()
        ModelHub.register_model_index(
            osp.join(root, 'model-index.yml'), config_prefix=root)
    _REGISTERED = True


def metainfo_for(config_path: str = None, name: str = None):
    """The ``ModelHub`` metainfo of a mogazoo name or config file, or one
    made for a config outside the index (an image-classification task, so
    that ``mmpretrain.inference_model`` picks its inferencer)."""
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
