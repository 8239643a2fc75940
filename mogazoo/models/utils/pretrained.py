"""``init_cfg=dict(type='Pretrained')`` for mogazoo's backbones, checked.

mmengine's ``PretrainedInit`` loads non-strictly: a checkpoint of another
arch or family, a missing ``prefix`` or an unconverted official file leave a
random backbone and a few log lines. The backbones hand their ``Pretrained``
init to :class:`CheckedPretrainedInit` instead (:func:`checked_pretrained`),
which loads through :func:`mogazoo.checkpoint.load_state_dict` (official
checkpoints converted in memory) with the ``'backbone'`` rule of
:func:`mogazoo.checkpoint.check_fit`: a checkpoint that does not fit is
refused.
"""
from contextlib import contextmanager

from mmengine.model.weight_init import PretrainedInit, update_init_info

from mogazoo.checkpoint import load_state_dict


class CheckedPretrainedInit(PretrainedInit):
    """Load a backbone from a checkpoint and check that it fits.

    The state dict is taken from the checkpoint's ``state_dict`` (or the
    checkpoint itself); with ``prefix`` only the keys under it, prefix
    stripped (``'backbone.'`` for a classifier checkpoint). Without
    ``prefix``, a classifier checkpoint (keys ``backbone.*`` and no key of
    the backbone) is read as if ``prefix='backbone.'`` had been given.

    Args:
        checkpoint (str): File or URL.
        prefix (str, optional): Key prefix of the backbone in the
            checkpoint. Defaults to None.
        map_location (str): As in ``torch.load``. Defaults to 'cpu'.

    Raises:
        CheckpointMismatchError: No key under ``prefix``, or the checkpoint
            does not fit the backbone (the message says how).
    """

    def __call__(self, module):
        name = type(module).__name__
        load_state_dict(
            module,
            self.checkpoint,
            rule='backbone',
            target=f'the {name} backbone',
            prefix=self.prefix,
            map_location=self.map_location)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())


@contextmanager
def checked_pretrained(module):
    """Run a backbone's ``init_weights`` with its ``Pretrained`` init_cfg
    entries taken out, then load them with :class:`CheckedPretrainedInit`.

    Inside the block ``module.init_cfg`` holds the other entries (or None),
    so the backbone initialises as it would without a checkpoint; on leaving
    it, ``init_cfg`` is restored and each checkpoint loaded and checked.

    Args:
        module (BaseModule): The backbone.
    """
    init_cfg = module.init_cfg
    cfgs = init_cfg if isinstance(init_cfg, list) else [init_cfg]
    pretrained = [
        c for c in cfgs
        if c is not None and c.get('type') in ('Pretrained', PretrainedInit)
    ]
    others = [c for c in cfgs if c is not None and c not in pretrained]
    module.init_cfg = (others if isinstance(init_cfg, list) else
                       others[0]) if others else None
    try:
        yield
    finally:
        module.init_cfg = init_cfg
    for cfg in pretrained:
        CheckedPretrainedInit(**{
            k: v
            for k, v in cfg.items() if k != 'type'
        })(
            module)
