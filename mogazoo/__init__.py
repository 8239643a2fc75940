"""mogazoo: MogaNet, FasterViT and DGMN2 for mmpretrain, mmdet and mmseg.

Importing the package registers every mogazoo module into the
mmpretrain/mmengine registries (backbones into ``mmpretrain.registry.MODELS``,
hooks into ``mmengine.registry.HOOKS``) and allow-lists the objects mmengine
writes into checkpoints for torch's ``weights_only`` loading. It also offers
the inference API, :func:`get_model` and :func:`inference_model`.
"""
from .utils import register_all_modules
from .version import __version__

register_all_modules()

from .apis import get_model, inference_model, list_models  # noqa: E402

__all__ = [
    '__version__', 'get_model', 'inference_model', 'list_models',
    'register_all_modules'
]
