"""mogazoo: MogaNet, FasterViT and DGMN2 for mmpretrain, mmdet and mmseg.

Importing the package registers every mogazoo module into the
mmpretrain/mmengine registries (backbones into ``mmpretrain.registry.MODELS``,
hooks into ``mmengine.registry.HOOKS``) and allow-lists the objects mmengine
writes into checkpoints for torch's ``weights_only`` loading.
"""
from .version import __version__
from .utils import register_all_modules

register_all_modules()

__all__ = ['__version__', 'register_all_modules']
