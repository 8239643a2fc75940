"""MogaNet: Multi-order Gated Aggregation Network (ICLR 2024).

A reimplementation for mmpretrain of the official model
(Westlake-AI/MogaNet, ``models/moganet.py``). With the same weights it gives
the same logits; official checkpoints are converted by
``tools/model_converters/moganet_to_mogazoo.py``.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils import ElementScale
from .base import MogazooBackbone, PreNormBlock


class ChannelAggregationFFN(BaseModule):
    """Feed-forward network with channel aggregation (CA).

    fc1 (1x1) -> depth-wise 3x3 -> act -> CA -> fc2 (1x1), where CA pulls the
    hidden features away from their 1-channel projection:
    ``x + sigma * (x - act(decompose(x)))``.

    Args:
        embed_dims (int): Input and output channels.
        feedforward_channels (int): Hidden channels.
        kernel_size (int): Kernel of the depth-wise conv. Defaults to 3.
        act_cfg (dict): Activation config. Defaults to ``dict(type='GELU')``.
        ffn_drop (float): Dropout after the activation and after fc2.
            Defaults to 0.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims,
                 feedforward_channels,
                 kernel_size=3,
                 act_cfg=dict(type='GELU'),
                 ffn_drop=0.,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.fc1 = nn.Conv2d(embed_dims, feedforward_channels, 1)
        self.dwconv = nn.Conv2d(
            feedforward_channels,
            feedforward_channels,
            kernel_size,
            padding=kernel_size // 2,
            groups=feedforward_channels)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Conv2d(feedforward_channels, embed_dims, 1)
        self.drop = nn.Dropout(ffn_drop)
        self.decompose = nn.Conv2d(feedforward_channels, 1, 1)
        self.sigma = ElementScale(feedforward_channels, init_value=1e-5)
        self.decompose_act = build_activation_layer(act_cfg)

    def forward(self, x):
        x = self.drop(self.act(self.dwconv(self.fc1(x))))
        x = x + self.sigma(x - self.decompose_act(self.decompose(x)))
        return self.drop(self.fc2(x))


class MultiOrderDWConv(BaseModule):
    """Multi-order depth-wise convolutions with dilation.

    A 5x5 depth-wise conv over all channels, then the channels are split by
    ``channel_split`` into three groups: the first is kept, the second goes
    through a dilated 5x5 and the third through a dilated 7x7 depth-wise conv;
    the concatenation is mixed by a 1x1 conv.

    Args:
        embed_dims (int): Channels; divisible by ``sum(channel_split)``.
        dw_dilation (Sequence[int]): Dilations of the three depth-wise convs,
            each in 1..3. Defaults to ``(1, 2, 3)``.
        channel_split (Sequence[int]): Relative sizes of the three channel
            groups. Defaults to ``(1, 3, 4)``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims,
                 dw_dilation=(1, 2, 3),
                 channel_split=(1, 3, 4),
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if len(dw_dilation) != 3 or len(channel_split) != 3:
            raise ValueError('dw_dilation and channel_split need 3 values, '
                             f'got {dw_dilation} and {channel_split}')
        if not (1 <= min(dw_dilation) and max(dw_dilation) <= 3):
            raise ValueError(f'dw_dilation must be in 1..3, got {dw_dilation}')
        if embed_dims % sum(channel_split) != 0:
            raise ValueError(f'embed_dims {embed_dims} is not divisible by '
                             f'sum(channel_split)={sum(channel_split)}')
        total = sum(channel_split)
        self.embed_dims = embed_dims
        self.embed_dims_1 = int(channel_split[1] / total * embed_dims)
        self.embed_dims_2 = int(channel_split[2] / total * embed_dims)
        self.embed_dims_0 = embed_dims - self.embed_dims_1 - self.embed_dims_2

        def dw(channels, kernel, dilation):
            return nn.Conv2d(
                channels,
                channels,
                kernel,
                padding=(1 + (kernel - 1) * dilation) // 2,
                dilation=dilation,
                groups=channels)

        self.dw_conv0 = dw(embed_dims, 5, dw_dilation[0])
        self.dw_conv1 = dw(self.embed_dims_1, 5, dw_dilation[1])
        self.dw_conv2 = dw(self.embed_dims_2, 7, dw_dilation[2])
        self.pw_conv = nn.Conv2d(embed_dims, embed_dims, 1)

    def forward(self, x):
        x_0 = self.dw_conv0(x)
        c0, c1 = self.embed_dims_0, self.embed_dims_1
        x_1 = self.dw_conv1(x_0[:, c0:c0 + c1])
        x_2 = self.dw_conv2(x_0[:, self.embed_dims - self.embed_dims_2:])
        return self.pw_conv(torch.cat([x_0[:, :c0], x_1, x_2], dim=1))


class MultiOrderGatedAggregation(BaseModule):
    """Spatial aggregation: feature decomposition, then a gated multi-order
    context branch.

    Args:
        embed_dims (int): Channels.
        attn_dw_dilation (Sequence[int]): Dilations of the three depth-wise
            convs. Defaults to ``(1, 2, 3)``.
        attn_channel_split (Sequence[int]): Channel split ratio.
            Defaults to ``(1, 3, 4)``.
        attn_act_cfg (dict): Activation of the gate and value branches.
            Defaults to ``dict(type='SiLU')``.
        attn_force_fp32 (bool): Compute the gating product in fp32 under
            autocast (as OpenMixup trains it). Defaults to False.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims,
                 attn_dw_dilation=(1, 2, 3),
                 attn_channel_split=(1, 3, 4),
                 attn_act_cfg=dict(type='SiLU'),
                 attn_force_fp32=False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.attn_force_fp32 = attn_force_fp32
        self.proj_1 = nn.Conv2d(embed_dims, embed_dims, 1)
        self.gate = nn.Conv2d(embed_dims, embed_dims, 1)
        self.value = MultiOrderDWConv(embed_dims, attn_dw_dilation,
                                      attn_channel_split)
        self.proj_2 = nn.Conv2d(embed_dims, embed_dims, 1)
        self.act_value = build_activation_layer(attn_act_cfg)
        self.act_gate = build_activation_layer(attn_act_cfg)
        self.sigma = ElementScale(embed_dims, init_value=1e-5)

    def feat_decompose(self, x):
        x = self.proj_1(x)
        x_d = F.adaptive_avg_pool2d(x, output_size=1)
        return self.act_value(x + self.sigma(x - x_d))

    def forward(self, x):
        shortcut = x
        x = self.feat_decompose(x)
        g = self.act_gate(self.gate(x))
        v = self.act_gate(self.value(x))
        if self.attn_force_fp32:
            # The official code applies the activation a second time here.
            with torch.autocast(device_type=x.device.type, enabled=False):
                x = self.proj_2(
                    self.act_gate(g.float()) * self.act_gate(v.float()))
        else:
            x = self.proj_2(g * v)
        return x + shortcut


class MogaBlock(PreNormBlock):
    """A MogaNet block: norm -> gated aggregation, norm -> CA FFN, each with
    layer scale, stochastic depth and a residual.

    Args:
        embed_dims (int): Channels.
        ffn_ratio (float): Hidden/input channel ratio of the FFN.
            Defaults to 4.
        drop_rate (float): Dropout in the FFN. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate. Defaults to 0.
        act_cfg (dict): Activation of the FFN. Defaults to GELU.
        norm_cfg (dict): Normalization config. Defaults to BN.
        init_value (float): Initial layer-scale value. Defaults to 1e-5.
        attn_dw_dilation (Sequence[int]): See
            :class:`MultiOrderGatedAggregation`.
        attn_channel_split (Sequence[int]): See
            :class:`MultiOrderGatedAggregation`.
        attn_act_cfg (dict): See :class:`MultiOrderGatedAggregation`.
        attn_force_fp32 (bool): See :class:`MultiOrderGatedAggregation`.
        with_cp (bool): Use gradient checkpointing. Defaults to False.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims,
                 ffn_ratio=4.,
                 drop_rate=0.,
                 drop_path_rate=0.,
                 act_cfg=dict(type='GELU'),
                 norm_cfg=dict(type='BN', eps=1e-5),
                 init_value=1e-5,
                 attn_dw_dilation=(1, 2, 3),
                 attn_channel_split=(1, 3, 4),
                 attn_act_cfg=dict(type='SiLU'),
                 attn_force_fp32=False,
                 with_cp=False,
                 init_cfg=None):
        super().__init__(
            embed_dims,
            MultiOrderGatedAggregation(
                embed_dims,
                attn_dw_dilation=attn_dw_dilation,
                attn_channel_split=attn_channel_split,
                attn_act_cfg=attn_act_cfg,
                attn_force_fp32=attn_force_fp32), ChannelAggregationFFN,
            ffn_ratio, act_cfg, drop_rate, norm_cfg, drop_path_rate, with_cp,
            init_cfg)
        self.layer_scale_1 = ElementScale(embed_dims, init_value)
        self.layer_scale_2 = ElementScale(embed_dims, init_value)

    def _forward(self, x):
        x = x + self.drop_path(self.layer_scale_1(self.attn(self.norm1(x))))
        return x + self.drop_path(self.layer_scale_2(self.mlp(self.norm2(x))))


def _conv_embed(in_channels, out_channels, norm_cfg):
    """3x3 stride-2 conv followed by a norm (the down-sampling layers)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1),
        build_norm_layer(norm_cfg, out_channels)[1])


def _stem(in_channels, out_channels, norm_cfg, act_cfg):
    """Two 3x3 stride-2 convs (stride 4 in all)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels // 2, 3, stride=2, padding=1),
        build_norm_layer(norm_cfg, out_channels // 2)[1],
        build_activation_layer(act_cfg),
        nn.Conv2d(out_channels // 2, out_channels, 3, stride=2, padding=1),
        build_norm_layer(norm_cfg, out_channels)[1])


def _arch(embed_dims, depths):
    """An official arch: all have the FFN ratios 8, 8, 4, 4."""
    return dict(embed_dims=embed_dims, depths=depths, ffn_ratios=[8, 8, 4, 4])


@MODELS.register_module()
class MogaNet(MogazooBackbone):
    """MogaNet backbone.

    A PyTorch implementation of `MogaNet: Multi-order Gated Aggregation
    Network <https://arxiv.org/abs/2211.03295>`_ (ICLR 2024), equal in value
    to the official code. Each of the 4 stages is a down-sampling layer
    (a stride-4 stem for the first), ``depths[i]`` :class:`MogaBlock` and a
    norm; the output of stage ``i`` has stride ``4 * 2**i``.

    Args:
        arch (str | dict): One of ``xtiny, tiny, small, base, large, xlarge``
            (aliases ``xt, t, s, b, l, xl``), or a dict with keys
            ``embed_dims``, ``depths`` and ``ffn_ratios`` (4 values each).
            Defaults to ``'tiny'``.
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose (normed) features are
            returned; negative values count from the end. Defaults to -1.
        frozen_stages (int): Stages ``0..frozen_stages`` (down-sampling
            layer, blocks and norm) are put in eval mode with frozen
            parameters; -1 freezes nothing. Defaults to -1.
        norm_eval (bool): Keep every BatchNorm in eval mode while training
            (frozen running statistics), as detectors often do.
            Defaults to False.
        drop_rate (float): Dropout in the FFNs. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate, increased linearly
            over the blocks. Defaults to 0.
        init_value (float): Initial layer-scale value. Defaults to 1e-5.
        norm_cfg (dict): Normalization of the stem, down-sampling layers,
            blocks and stage outputs. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation of the stem and FFNs. Defaults to GELU.
        attn_dw_dilation (Sequence[int]): Dilations of the multi-order
            depth-wise convs. Defaults to ``(1, 2, 3)``.
        attn_channel_split (Sequence[int]): Channel split of the multi-order
            depth-wise convs. Defaults to ``(1, 3, 4)``.
        attn_act_cfg (dict): Activation of the gating. Defaults to SiLU.
        attn_final_dilation (bool): Whether the last stage uses
            ``attn_dw_dilation``; if False it uses ``(1, 2, 1)``.
            Defaults to True.
        attn_force_fp32 (bool): Compute the gating in fp32 under autocast as
            OpenMixup does. It changes the function (the official code then
            applies the gate activation twice), so use it only with weights
            trained that way. Defaults to False.
        with_cp (bool): Use gradient checkpointing in the blocks, trading
            compute for memory. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            (checked, see :class:`MogazooBackbone`). Without one, weights are
            initialized as the official code does: convs normal with std
            ``sqrt(2 / fan_out)`` (fan_out counting groups), norms 1 and 0,
            linear layers truncated normal (std 0.02). Defaults to None.
    """
    # yapf: disable
    arch_zoo = {
        **dict.fromkeys(['xt', 'xtiny', 'x-tiny'],
                        _arch([32, 64, 96, 192], [3, 3, 10, 2])),
        **dict.fromkeys(['t', 'tiny'],
                        _arch([32, 64, 128, 256], [3, 3, 12, 2])),
        **dict.fromkeys(['s', 'small'],
                        _arch([64, 128, 320, 512], [2, 3, 12, 2])),
        **dict.fromkeys(['b', 'base'],
                        _arch([64, 160, 320, 512], [4, 6, 22, 3])),
        **dict.fromkeys(['l', 'large'],
                        _arch([64, 160, 320, 640], [4, 6, 44, 4])),
        **dict.fromkeys(['xl', 'xlarge', 'x-large'],
                        _arch([96, 192, 480, 960], [6, 6, 44, 4])),
    }
    # yapf: enable
    arch_keys = ('embed_dims', 'depths', 'ffn_ratios')
    init_norm_types = (_BatchNorm, nn.GroupNorm, nn.LayerNorm)

    def __init__(self,
                 arch='tiny',
                 in_channels=3,
                 out_indices=-1,
                 frozen_stages=-1,
                 norm_eval=False,
                 drop_rate=0.,
                 drop_path_rate=0.,
                 init_value=1e-5,
                 norm_cfg=dict(type='BN', eps=1e-5),
                 act_cfg=dict(type='GELU'),
                 attn_dw_dilation=(1, 2, 3),
                 attn_channel_split=(1, 3, 4),
                 attn_act_cfg=dict(type='SiLU'),
                 attn_final_dilation=True,
                 attn_force_fp32=False,
                 with_cp=False,
                 init_cfg=None):
        super().__init__(arch, out_indices, frozen_stages, norm_eval,
                         drop_path_rate, init_cfg)
        self.ffn_ratios = self.arch_settings['ffn_ratios']

        stage_rates = self.drop_path_rates(drop_path_rate)
        self.patch_embeds = nn.ModuleList()
        self.stages = nn.ModuleList()
        self.norms = nn.ModuleList()
        for i, (dims, rates) in enumerate(zip(self.embed_dims, stage_rates)):
            if i == 0:
                embed = _stem(in_channels, dims, norm_cfg, act_cfg)
            else:
                embed = _conv_embed(self.embed_dims[i - 1], dims, norm_cfg)
            dilation = attn_dw_dilation
            if i == self.num_stages - 1 and not attn_final_dilation:
                dilation = (1, 2, 1)
            blocks = nn.Sequential(*[
                MogaBlock(
                    dims,
                    ffn_ratio=self.ffn_ratios[i],
                    drop_rate=drop_rate,
                    drop_path_rate=rate,
                    act_cfg=act_cfg,
                    norm_cfg=norm_cfg,
                    init_value=init_value,
                    attn_dw_dilation=dilation,
                    attn_channel_split=attn_channel_split,
                    attn_act_cfg=attn_act_cfg,
                    attn_force_fp32=attn_force_fp32,
                    with_cp=with_cp) for rate in rates
            ])
            self.patch_embeds.append(embed)
            self.stages.append(blocks)
            self.norms.append(build_norm_layer(norm_cfg, dims)[1])
        self._freeze_stages()

    def _init_module(self, m):
        """The official initialization: convs normal with std
        sqrt(2 / fan_out) where fan_out counts groups, zero bias; linear
        layers and norms as the base."""
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * \
                m.out_channels // m.groups
            nn.init.normal_(m.weight, 0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        else:
            super()._init_module(m)

    def forward(self, x):
        outs = []
        for i in range(self.num_stages):
            x = self.norms[i](self.stages[i](self.patch_embeds[i](x)))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _stage_modules(self, i):
        return [self.patch_embeds[i], self.stages[i], self.norms[i]]
