"""What every mogazoo backbone shares: :class:`MogazooBackbone`.

A family is its layers plus an arch table: the base parses ``arch`` (a name
of ``arch_zoo`` or a dict), checks and normalises ``out_indices`` and
``frozen_stages``, freezes stages and keeps BatchNorms in eval mode
(``norm_eval``), resets the stochastic depth rates
(:meth:`MogazooBackbone.set_drop_path_rate`, used by
:class:`~mogazoo.engine.hooks.DropPathWarmupHook`), initializes weights as
the official code does or from a checked ``Pretrained`` checkpoint, and
gives the layer depths of layer-wise lr decay. Blocks get gradient
checkpointing (``with_cp``) from :class:`CheckpointMixin`, the pre-norm
residual layout from :class:`PreNormBlock`.
"""
import copy
from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils import checked_pretrained


def drop_path_layer(rate):
    """Stochastic depth of ``rate``: ``DropPath``, or ``nn.Identity`` for
    0."""
    return DropPath(rate) if rate > 0. else nn.Identity()


def parse_out_indices(out_indices: Union[int, Sequence[int]],
                      num_stages: int) -> tuple:
    """Turn ``out_indices`` into a sorted tuple of non-negative stage indices.

    Negative indices count from the last stage, as in mmpretrain.

    Raises:
        TypeError: if ``out_indices`` is neither an int nor a sequence of ints.
        ValueError: if an index is outside ``[-num_stages, num_stages)``.
    """
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    if not isinstance(out_indices, Sequence) or not all(
            isinstance(i, int) for i in out_indices):
        raise TypeError('out_indices must be an int or a sequence of ints, '
                        f'got {out_indices!r}')
    parsed = []
    for index in out_indices:
        if not -num_stages <= index < num_stages:
            raise ValueError(f'out_indices {index} is out of range for a '
                             f'backbone with {num_stages} stages')
        parsed.append(index % num_stages)
    return tuple(sorted(set(parsed)))


class CheckpointMixin:
    """``forward`` runs the block's ``_forward``, under gradient
    checkpointing (trading compute for memory) when ``self.with_cp`` is set
    and the input ``x`` needs gradients."""

    with_cp = False

    def forward(self, x, *args):
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, *args, use_reentrant=False)
        return self._forward(x, *args)


class PreNormBlock(CheckpointMixin, BaseModule):
    """The layout of a pre-norm residual block: ``norm1``, ``attn``,
    ``drop_path``, ``norm2``, ``mlp`` (in this order: the state dict keys of
    the official checkpoints). The family's block builds its token mixer
    ``attn``, names its FFN type and writes ``_forward``.

    Args:
        embed_dims (int): Channels.
        attn (nn.Module): Token mixer.
        ffn_type (type): FFN, built as ``ffn_type(embed_dims,
            int(embed_dims * ffn_ratio), act_cfg=act_cfg,
            ffn_drop=drop_rate)``.
        ffn_ratio (float): Hidden/input channel ratio of the FFN.
        act_cfg (dict): Activation of the FFN.
        drop_rate (float): Dropout in the FFN.
        norm_cfg (dict): Norm of ``norm1`` and ``norm2``.
        drop_path_rate (float): Stochastic depth rate.
        with_cp (bool): Use gradient checkpointing.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self, embed_dims, attn, ffn_type, ffn_ratio, act_cfg,
                 drop_rate, norm_cfg, drop_path_rate, with_cp, init_cfg):
        super().__init__(init_cfg=init_cfg)
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = attn
        self.drop_path = drop_path_layer(drop_path_rate)
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.mlp = ffn_type(
            embed_dims,
            int(embed_dims * ffn_ratio),
            act_cfg=act_cfg,
            ffn_drop=drop_rate)


class MogazooBackbone(BaseBackbone):
    """Base of the mogazoo backbones (on mmpretrain's ``BaseBackbone``).

    A family sets ``arch_zoo`` (name -> arch dict), ``arch_keys`` (the keys
    a custom arch dict needs) and optionally ``arch_defaults`` (optional keys
    and their values) and ``stage_keys`` (keys with one value per stage;
    ``arch_keys`` by default); it builds ``patch_embeds`` and ``stages``
    (each stage iterable over its blocks, or with a ``blocks`` list),
    implements ``forward`` and ``_stage_modules(i)`` (the modules frozen
    with stage ``i``), and calls :meth:`_freeze_stages` at the end of its
    ``__init__``.

    Args:
        arch (str | dict): A name of ``arch_zoo`` (case-insensitive) or a
            dict (see :meth:`parse_arch`).
        out_indices (int | Sequence[int]): Stages whose features are
            returned; negative values count from the end.
        frozen_stages (int): Stages ``0..frozen_stages`` are put in eval mode
            with frozen parameters; -1 freezes nothing.
        norm_eval (bool): Keep every BatchNorm in eval mode while training.
        drop_path_rate (float): Stochastic depth rate, increased linearly
            over the blocks (:meth:`drop_path_rates`).
        init_cfg (dict | list[dict], optional): Initialization config; a
            ``Pretrained`` entry is loaded and checked by
            :func:`~mogazoo.models.utils.checked_pretrained`. Without one,
            weights are initialized as the official code does.
        **arch_overrides: Arch keys set after parsing (None: keep the
            arch's value).

    Attributes:
        arch_settings (dict): The parsed arch, overrides applied.
        embed_dims, depths (list): Of the arch.
        num_stages (int): Number of stages.
    """
    arch_zoo = {}
    arch_keys = ()
    arch_defaults = {}
    stage_keys = None
    # norms set to 1 and 0 by the official initialization
    init_norm_types = (_BatchNorm, nn.LayerNorm)

    def __init__(self,
                 arch,
                 out_indices=-1,
                 frozen_stages=-1,
                 norm_eval=False,
                 drop_path_rate=0.,
                 init_cfg=None,
                 **arch_overrides):
        super().__init__(init_cfg=init_cfg)
        arch = self.parse_arch(arch)
        arch.update({
            k: copy.deepcopy(v)
            for k, v in arch_overrides.items() if v is not None
        })
        self.check_arch(arch)
        self.arch_settings = arch
        self.embed_dims = arch['embed_dims']
        self.depths = arch['depths']
        self.num_stages = len(self.depths)
        self.out_indices = parse_out_indices(out_indices, self.num_stages)
        if not -1 <= frozen_stages < self.num_stages:
            raise ValueError(f'frozen_stages must be in -1..'
                             f'{self.num_stages - 1}, got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.drop_path_rate = drop_path_rate

    # ------------------------------------------------------------- arch
    @classmethod
    def arch_key(cls, name):
        """The ``arch_zoo`` key of an arch name."""
        return name.lower()

    @classmethod
    def parse_arch(cls, arch):
        """A copy of the arch dict named by ``arch`` (or of ``arch``, a
        dict with the keys ``arch_keys`` and any of ``arch_defaults``), with
        the defaults filled in.

        Raises:
            KeyError: An unknown name (the message lists the choices), or a
                dict with missing or unknown keys.
            TypeError: ``arch`` is neither a str nor a dict.
        """
        name = cls.__name__
        if isinstance(arch, str):
            key = cls.arch_key(arch)
            if key not in cls.arch_zoo:
                raise KeyError(f'Unknown {name} arch {arch!r}; choose one of '
                               f'{sorted(set(cls.arch_zoo))} or pass a dict')
            arch = cls.arch_zoo[key]
        elif isinstance(arch, dict):
            missing = [k for k in cls.arch_keys if k not in arch]
            unknown = [
                k for k in arch
                if k not in cls.arch_keys and k not in cls.arch_defaults
            ]
            if missing or unknown:
                optional = (f' and may have {list(cls.arch_defaults)}'
                            if cls.arch_defaults else '')
                raise KeyError(f'A custom {name} arch needs the keys '
                               f'{list(cls.arch_keys)}{optional}; missing '
                               f'{missing}, unknown {unknown}')
        else:
            raise TypeError(f'arch must be a str or a dict, got {type(arch)}')
        out = copy.deepcopy(cls.arch_defaults)
        out.update(copy.deepcopy(arch))
        return out

    def check_arch(self, arch):
        """Check a parsed arch: one value per stage for each of
        ``stage_keys``. Families add their own checks."""
        keys = self.arch_keys if self.stage_keys is None else self.stage_keys
        n = len(arch['depths'])
        wrong = [k for k in keys if len(arch[k]) != n]
        if wrong:
            raise ValueError(f'{", ".join(wrong)} of the '
                             f'{type(self).__name__} arch must have one '
                             f'value per stage ({n}): {arch}')

    # ----------------------------------------------------- drop path
    def drop_path_rates(self, drop_path_rate):
        """Rates of the blocks, a list per stage: linear from 0 to
        ``drop_path_rate`` over all blocks (computed on the CPU, so that a
        model can be built on any device)."""
        rates = torch.linspace(
            0, drop_path_rate, sum(self.depths), device='cpu').tolist()
        ends = [sum(self.depths[:i + 1]) for i in range(self.num_stages)]
        return [
            rates[end - depth:end] for end, depth in zip(ends, self.depths)
        ]

    def blocks(self):
        """The blocks, stage by stage."""
        for stage in self.stages:
            yield from getattr(stage, 'blocks', stage)

    def set_drop_path_rate(self, drop_path_rate):
        """Reset the stochastic depth rates (linear over the blocks up to
        ``drop_path_rate``) as the official DGMN2 ``reset_drop_path``; each
        child of a block named ``*drop_path`` is replaced. Used by
        :class:`~mogazoo.engine.hooks.DropPathWarmupHook`."""
        rates = [r for s in self.drop_path_rates(drop_path_rate) for r in s]
        for blk, rate in zip(self.blocks(), rates):
            for name, _ in list(blk.named_children()):
                if name.endswith('drop_path'):
                    setattr(blk, name, drop_path_layer(rate))
        self.drop_path_rate = drop_path_rate

    # ------------------------------------------------- freeze and train
    def _stage_modules(self, i):
        """The modules of stage ``i`` (down-sampling layer, blocks, output
        norm), frozen by ``frozen_stages``."""
        raise NotImplementedError

    def _freeze_stages(self):
        for i in range(self.frozen_stages + 1):
            for m in self._stage_modules(i):
                m.eval()
                for param in m.parameters():
                    param.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    # ---------------------------------------------------------- init
    def init_weights(self):
        """Load ``init_cfg`` weights if given (a ``Pretrained`` checkpoint
        checked), else initialize each module with :meth:`_init_module`, as
        the official code does."""
        with checked_pretrained(self):
            if self.init_cfg is not None:
                super().init_weights()
                return
            for m in self.modules():
                self._init_module(m)

    def _init_module(self, m):
        """Linear layers: truncated normal (std 0.02), zero bias; norms of
        ``init_norm_types``: 1 and 0; the rest keeps its values."""
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, self.init_norm_types):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    # ------------------------------------------------ layer-wise decay
    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer depth of a parameter for layer-wise lr decay
        (``LearningRateDecayOptimWrapperConstructor``).

        The first patch embedding (stem) is layer 0, every block counts one
        layer (:meth:`_layer_depth` places the rest), and everything
        outside the backbone (neck, head) is the last layer.

        Returns:
            Tuple[int, int]: The layer depth and the number of layers.
        """
        num_layers = sum(self.depths) + 2
        depth = None
        if param_name.startswith(prefix):
            depth = self._layer_depth(param_name[len(prefix):].split('.'))
        return (num_layers - 1 if depth is None else depth), num_layers

    def _layer_depth(self, name):
        """Depth of a backbone parameter named ``name`` (split at dots), or
        None for the last layer: block ``j`` of stage ``i`` is
        ``sum(depths[:i]) + j + 1``; the patch embedding of stage ``i``
        shares the depth of the last block before it, the output norm of
        stage ``i`` that of its last block."""
        if name[0] == 'stages':
            stage, block = int(name[1]), int(name[2])
            return sum(self.depths[:stage]) + block + 1
        if name[0] == 'patch_embeds':
            return sum(self.depths[:int(name[1])])
        if name[0] == 'norms':
            return sum(self.depths[:int(name[1]) + 1])
        return None
