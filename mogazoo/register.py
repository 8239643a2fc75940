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
import mogazoo.datasets  # noqa: F401
import mogazoo.engine  # noqa: F401
import mogazoo.evaluation  # noqa: F401
import mogazoo.models  # noqa: F401
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
    if init_default_scope:
        # lazy: an optional / heavy dependency, imported on use
        from mmpretrain.utils import register_all_modules as mmpretrain_reg
        mmpretrain_reg(init_default_scope=True)
