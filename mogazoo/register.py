"""Make mogazoo known to the OpenMMLab stack: the one module that does it,
and that nothing inside mogazoo imports (``import mogazoo`` runs it; a
config does the same with ``custom_imports = dict(imports=['mogazoo'])``).

Importing the subpackages registers their modules (``@MODELS.register_module``
and friends: backbones, heads, hooks, optimizers, datasets, transforms) into
mmpretrain's registries, which mmdet and mmseg configs reach with the
``mmpretrain.`` scope prefix. :func:`register_all_modules` then registers
``model-index.yml`` with mmpretrain's ``ModelHub`` (public API) and applies
the three compatibility changes of :mod:`mogazoo.compat`.
"""
import importlib.util
from typing import Callable

import mogazoo.datasets  # noqa: F401
import mogazoo.engine  # noqa: F401
import mogazoo.evaluation  # noqa: F401
import mogazoo.models  # noqa: F401
from .apis.aliases import OFFICIAL_NAMES
from .apis.inference import get_model
from .apis.model_hub import register_model_index
from .compat import (allow_mmengine_checkpoints,
                     use_mogazoo_checkpoint_loaders, use_mogazoo_get_model)


def register_all_modules(init_default_scope: bool = False) -> None:
    """Register mogazoo's model index with mmpretrain's ``ModelHub``,
    allow-list mmengine's checkpoint contents for ``torch.load``, route
    mmengine's checkpoint loaders through :mod:`mogazoo.checkpoint` and give
    ``mmpretrain.get_model`` mogazoo's rules for mogazoo models
    (:mod:`mogazoo.compat`). Idempotent.

    Args:
        init_default_scope (bool): Also call mmpretrain's
            ``register_all_modules(init_default_scope=True)``. Defaults to
            False.
    """
    allow_mmengine_checkpoints()
    use_mogazoo_checkpoint_loaders()
    register_model_index()
    use_mogazoo_get_model()
    register_timm_models()
    if init_default_scope:
        # lazy: an optional / heavy dependency, imported on use
        from mmpretrain.utils import register_all_modules as mmpretrain_reg
        mmpretrain_reg(init_default_scope=True)


def timm_entrypoint(official: str) -> Callable:
    """A timm model entrypoint named ``official`` that builds mogazoo's
    model through :func:`mogazoo.get_model`.

    The entrypoint takes ``pretrained`` (bool, path or URL), and of timm's
    keyword arguments ``num_classes`` (the head's class count) and
    ``drop_path_rate``; the ``pretrained_cfg*`` arguments timm passes are
    ignored (mogazoo's index holds the weights). Others are an error that
    names them.
    """

    def entrypoint(pretrained=False, **kwargs):
        for key in ('pretrained_cfg', 'pretrained_cfg_overlay', 'cache_dir'):
            kwargs.pop(key, None)
        options = {}
        for key, option in (('num_classes', 'model.head.num_classes'),
                            ('drop_path_rate',
                             'model.backbone.drop_path_rate')):
            value = kwargs.pop(key, None)
            if value is not None:
                options[option] = value
        if kwargs:
            raise TypeError(f'{official}: mogazoo takes pretrained, '
                            'num_classes and drop_path_rate, not '
                            f'{", ".join(sorted(kwargs))}')
        return get_model(
            OFFICIAL_NAMES[official], pretrained=pretrained or None, **options)

    entrypoint.__name__ = entrypoint.__qualname__ = official
    entrypoint.__module__ = __name__
    entrypoint.__doc__ = (f'``{official}``: mogazoo\'s '
                          f'``{OFFICIAL_NAMES[official]}``.')
    return entrypoint


def register_timm_models() -> None:
    """Register :data:`~mogazoo.apis.aliases.OFFICIAL_NAMES` with timm's
    public ``register_model``, where timm is installed (idempotent)."""
    if importlib.util.find_spec('timm') is None:
        return
    # lazy: timm is an optional dependency (pip install mogazoo[timm])
    from timm.models import is_model, model_entrypoint, register_model
    for official in OFFICIAL_NAMES:
        if is_model(official) and \
                model_entrypoint(official).__module__ == __name__:
            continue
        register_model(timm_entrypoint(official))
