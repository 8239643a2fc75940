"""mogazoo: MogaNet, FasterViT and DGMN2 for mmpretrain, mmdet and mmseg.

Importing the package registers every mogazoo module into the mmpretrain
registries (backbones into ``mmpretrain.registry.MODELS``, hooks into
``HOOKS``), its model names with mmpretrain's ``ModelHub``, and applies the
compatibility changes of :mod:`mogazoo.compat` (:mod:`mogazoo.register`).
It also offers the inference API, :func:`get_model` and
:func:`inference_model`.
"""
from .apis import get_model, inference_model, list_models
from .register import register_all_modules
from .version import __version__

register_all_modules()

__all__ = [
    '__version__', 'get_model', 'inference_model', 'list_models',
    'register_all_modules'
]
