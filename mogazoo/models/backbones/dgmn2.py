"""DGMN2: Dynamic Graph Message Passing Networks (TPAMI 2022).

A reimplementation for mmpretrain of the official model (fudan-zvg/DGMN2,
``classification/dgmn2.py`` and ``dgmn2_block.py``). With the same weights it
gives the same logits; official checkpoints are converted by
``tools/model_converters/dgmn2_to_mogazoo.py``.

Every token and head samples 9 neighbours at offsets predicted from the token
(a 3x3 deformable unfold) and attends over them. The official code samples
with its own CUDA-only ``DeformUnfold``; here one attention forward hands
the sampling and the two sums over the samples to a small strategy per
sampler (``SAMPLINGS``): ``F.grid_sample`` or plain PyTorch gathers, the
value side as what it is, a modulated deformable convolution (mmcv's DCNv2),
or, for ``torch.compile``, every sample as pixel gathers inside the
attention's reductions; see :mod:`mogazoo.models.utils.deform_unfold`.
"""
from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..utils.deform_unfold import (DeformUnfold, bilinear_cells,
                                   deform_aggregate, resolve_sampler)
from .base import MogazooBackbone, PreNormBlock

NUM_SAMPLES = 9  # a 3x3 neighbourhood per token


class RelativePositionLogits(BaseModule):
    """The relative position term of the DGMN2 attention logits.

    Two tables, ``rel_height`` (``H + 8`` rows) and ``rel_width``
    (``W + 8`` rows), of ``head_dims`` channels, made for one feature size.
    For the query at row ``y``, column ``x`` and sample ``s`` (0..8) the
    official code adds ``q[y, x] . rel_width[W - 1 - x + s]`` and a height
    term computed on the transposed query map, ``q[x', y'] .
    rel_height[H - 1 - y' + s]`` read at ``(y', x') = (x, y)``, which for a
    non-square map is resized from ``W x H`` to ``H x W`` (bilinear). At
    other feature sizes the tables are resized (bilinear, along their rows),
    as the official detection and segmentation code does; at the size they
    were made for, all of this is the classification model exactly.

    Args:
        feat_size (tuple[int, int]): Feature size the tables are made for.
        head_dims (int): Channels per head.
        num_samples (int): Samples per token. Defaults to 9.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 feat_size,
                 head_dims,
                 num_samples=NUM_SAMPLES,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        height, width = feat_size
        scale = head_dims**-0.5
        self.num_samples = num_samples
        self.rel_height = nn.Parameter(
            torch.randn(height + num_samples - 1, head_dims) * scale)
        self.rel_width = nn.Parameter(
            torch.randn(width + num_samples - 1, head_dims) * scale)

    def _table(self, table, length):
        rows = length + self.num_samples - 1
        if table.shape[0] == rows:
            return table
        return F.interpolate(
            table[None, None],
            size=(rows, table.shape[1]),
            mode='bilinear',
            align_corners=False)[0, 0]

    def _logits_1d(self, q, table):
        """``out[b, i, j, s] = q[b, i, j] . table[L - 1 - j + s]`` with
        ``L = q.shape[2]``: the entries of ``q @ table.T`` that the official
        ``rel_to_abs`` picks, computed alone (9 dot products per token, not
        ``L + 8``) from the 9 table rows each column ``j`` reads."""
        length = q.shape[2]
        index = (length - 1 - torch.arange(length, device=q.device))[:, None] \
            + torch.arange(self.num_samples, device=q.device)
        return torch.einsum('bijd,jsd->bijs', q, table[index])

    def forward(self, q):
        """
        Args:
            q (Tensor): Queries, ``(B * heads, H, W, head_dims)``.

        Returns:
            Tensor: ``(B * heads, H, W, num_samples)``.
        """
        h, w = q.shape[1:3]
        logits_w = self._logits_1d(q, self._table(self.rel_width, w))
        logits_h = self._logits_1d(
            q.transpose(1, 2), self._table(self.rel_height, h))
        if h != w:  # (W, H) map -> (H, W), as the official dense code does
            logits_h = F.interpolate(
                logits_h.permute(0, 3, 1, 2),
                size=(h, w),
                mode='bilinear',
                align_corners=False).permute(0, 2, 3, 1)
        return logits_w + logits_h


# The sampling strategies of DGMN2Attention.forward, one per sampler
# (SAMPLINGS). Each is built per call from the projections (in the layout its
# ``token_major`` asks DGMN2Attention._qkv for), the offsets ``(B, N, heads,
# 18)`` and ``(H, W)``, and gives ``query`` (the queries as ``(B * heads, H,
# W, d)``, for the position term), ``logits()`` (the 9 dot products of every
# token and head) and ``aggregate(weights, proj)`` (``proj`` of the weighted
# sums of the values, ``(B, N, C)``), with the 9 samples on axis
# ``sample_dim`` of its own layout; ``arrange`` puts the position logits
# ``(B * heads, H, W, 9)`` in that layout.
class _Unfolded:
    """``'pytorch'`` and ``'grid_sample'``: the keys and values of a head,
    as channels-first maps, go through one deformable unfold
    (``attn.unfold``), and the dot products and the weighted sum are
    products summed over one axis of the sampled layout ``(B * heads, 2, d,
    9, N)``: the 9x-sized samples are never permuted. Logits and weights
    ``(B * heads, 9, N)``."""
    token_major = False
    sample_dim = 1
    sampled = 2  # keys and values

    def __init__(self, attn, qkv, offset, hw_shape):
        q, kv = qkv  # (B * heads, d, N), (B * heads, 2 * d, N)
        bh, d, n = q.shape
        h, w = hw_shape
        self.heads, self.n = attn.num_heads, n
        self.q = q[:, :, None]
        self.query = q.view(bh, d, h, w).permute(0, 2, 3, 1)
        self.offset = offset.permute(0, 2, 3, 1).reshape(bh, -1, h, w)
        kv = kv.view(bh, 2, d, h, w)[:, :self.sampled].flatten(1, 2)
        samples = attn.unfold(kv, self.offset)  # (B * heads, rows * 9, N)
        self.samples = samples.view(bh, self.sampled, d, NUM_SAMPLES, n)

    def logits(self):
        return (self.q * self.samples[:, 0]).sum(1)

    def arrange(self, pos):
        return pos.reshape(-1, self.n, NUM_SAMPLES).transpose(1, 2)

    def aggregate(self, weights, proj):
        out = (weights[:, None] * self.samples[:, 1]).sum(2)  # (B*heads, d, N)
        return proj(
            out.view(-1, self.heads * out.shape[1], self.n).transpose(1, 2))


class _DCN(_Unfolded):
    """``'dcn'``: the keys as :class:`_Unfolded`; the values, their weighted
    sum and the projection as one mmcv modulated deformable convolution
    (:func:`deform_aggregate`: DCNv2 with ``deform_groups = heads``, the
    attention weights as the mask, ``proj.weight`` tied over the 9 kernel
    points)."""
    sampled = 1  # keys only

    def __init__(self, attn, qkv, offset, hw_shape):
        super().__init__(attn, qkv, offset, hw_shape)
        self.value = qkv[1].unflatten(1, (2, -1))[:, 1]  # (B * heads, d, N)

    def aggregate(self, weights, proj):
        bh, _, h, w = self.offset.shape
        b, heads = bh // self.heads, self.heads
        out = deform_aggregate(
            self.value.reshape(b, -1, h, w),
            self.offset.view(b, heads, NUM_SAMPLES, 2, h, w),
            weights.view(b, heads, NUM_SAMPLES, h, w), proj.weight, proj.bias)
        return out.flatten(2).transpose(1, 2)


class _Fused:
    """``'fused'``: every bilinear sample of a key or value as its four pixel
    gathers (:func:`bilinear_cells`), written inside the dot products and
    inside the weighted sum, on token-major projections. Under
    ``torch.compile`` inductor fuses the gathers into those two reductions,
    so the 9x-sized samples are never stored. Needs a map of at least 2x2.
    Logits and weights ``(B, N, heads, 9)``."""
    token_major = True
    sample_dim = -1

    def __init__(self, attn, qkv, offset, hw_shape):
        b, n, _, heads, d = qkv.shape
        h, w = hw_shape
        self.q = qkv[:, :, 0]  # (B, N, heads, d)
        self.query = self.q.transpose(1, 2).reshape(b * heads, h, w, d)
        # one row per (token, q/k/v, head): row (t * 3 + 1) * heads + head is
        # the key of token t and head, + heads more its value
        self.table = qkv.view(b * n * 3 * heads, d)
        cell, weights = bilinear_cells(
            offset.view(b, n, heads, NUM_SAMPLES, 2), h, w)
        self.weights = weights.to(qkv.dtype)
        self.key = cell * (3 * heads) + torch.arange(
            heads, device=qkv.device)[:, None] + heads  # (B, N, heads, 9)
        # rows of the cell's pixels: top-left, top-right, bottom-left, -right
        self.pixels = [3 * heads * step for step in (0, 1, w, w + 1)]

    def logits(self):
        k = sum(self.weights[..., i, None] * self.table[self.key + step]
                for i, step in enumerate(self.pixels))
        return (self.q[:, :, :, None] * k).sum(-1)

    def arrange(self, pos):
        b, n, heads = self.q.shape[:3]
        return pos.reshape(b, heads, n, NUM_SAMPLES).transpose(1, 2)

    def aggregate(self, weights, proj):
        # one weighted sum over the 9 samples per pixel of the cells
        # (summing the 4 pixels first made inductor store them, 9x)
        weights = weights[..., None] * self.weights
        value = self.key + self.q.shape[2]  # the rows of the values
        out = sum((weights[..., i, None] * self.table[value + step]).sum(3)
                  for i, step in enumerate(self.pixels))  # (B, N, heads, d)
        return proj(out.flatten(2))


# 'pytorch' and 'grid_sample' differ in the unfold only (attn.unfold's name)
SAMPLINGS = dict(
    pytorch=_Unfolded, grid_sample=_Unfolded, dcn=_DCN, fused=_Fused)


class DGMN2Attention(BaseModule):
    """Dynamic graph message passing over 9 sampled neighbours per token.

    For each head, the keys and values of the 3x3 neighbourhood of a token
    are sampled at offsets predicted (by ``conv_offset``) from the token's
    own channels of that head; the query attends over the 9 samples with
    scaled dot products plus a relative position term.

    Args:
        embed_dims (int): Channels.
        num_heads (int): Heads; ``embed_dims`` must be divisible by it.
        feat_size (tuple[int, int]): Feature size of the relative position
            tables (224 / stride in the official model).
        qkv_bias (bool): Bias of the qkv and offset projections.
            Defaults to True.
        attn_drop_rate (float): Dropout on the attention weights.
            Defaults to 0.
        proj_drop_rate (float): Dropout after the output projection.
            Defaults to 0.
        sampler (str): How the neighbours are sampled, see :class:`DGMN2`
            (held and checked by :class:`DeformUnfold`). Defaults to
            ``'auto'``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims,
                 num_heads,
                 feat_size,
                 qkv_bias=True,
                 attn_drop_rate=0.,
                 proj_drop_rate=0.,
                 sampler='auto',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if embed_dims % num_heads != 0:
            raise ValueError(f'embed_dims {embed_dims} is not divisible by '
                             f'num_heads {num_heads}')
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.scale = self.head_dims**-0.5
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop_rate)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop_rate)
        self.conv_offset = nn.Linear(
            self.head_dims, NUM_SAMPLES * 2, bias=qkv_bias)
        self.unfold = DeformUnfold(3, padding=1, sampler=sampler)
        self.pos_emb = RelativePositionLogits(feat_size, self.head_dims)

    def _qkv(self, x, token_major):
        """Queries, keys and values of the tokens ``x`` ``(B, N, C)``:
        token-major ``(B, N, 3, heads, d)`` (the ``qkv`` layer), or
        channels-first ``q`` ``(B * heads, d, N)`` and ``kv`` ``(B * heads,
        2 * d, N)``, the keys and values of a head together (maps that the
        unfold reads with no permute copy; two products: at 64 channels
        measured faster than one)."""
        b, n, c = x.shape
        heads = self.num_heads
        if token_major:
            return self.qkv(x).view(b, n, 3, heads, self.head_dims)
        weight = self.qkv.weight.view(3, heads, -1, c)
        bias = self.qkv.bias
        bias = None if bias is None else bias.view(3, heads, -1)
        out = []
        for part in (slice(0, 1), slice(1, 3)):  # q, then k and v per head
            w = weight[part].transpose(0, 1).reshape(-1, c)
            y = torch.matmul(w, x.transpose(1, 2))
            if bias is not None:
                y = y + bias[part].transpose(0, 1).reshape(-1, 1)
            out.append(y.view(b * heads, -1, n))
        return out

    def forward(self, x, hw_shape):
        """``x``: tokens ``(B, H * W, C)``; returns the same shape.

        The official algorithm: per token and head, offsets of the 9 points
        of the 3x3 neighbourhood from the token's channels of the head,
        keys and values sampled there, logits ``q . k * scale`` plus the
        relative position term, a softmax over the 9, the weighted sum of
        the values, the projection. The sampler's strategy
        (:data:`SAMPLINGS`) samples the neighbours and computes the two
        sums over them, each in the layout it is fastest in."""
        b, n, c = x.shape
        h, w = hw_shape
        path = resolve_sampler(self.unfold.sampler, x.device)
        if path == 'fused' and (h < 2 or w < 2):
            path = 'grid_sample'  # bilinear_cells needs a 2x2 map
        sampling = SAMPLINGS[path]
        qkv = self._qkv(x, sampling.token_major)
        offset = self.conv_offset(x.reshape(b, n, self.num_heads, -1))
        nb = sampling(self, qkv, offset, hw_shape)
        logits = nb.logits() * self.scale + nb.arrange(self.pos_emb(nb.query))
        weights = self.attn_drop(logits.softmax(dim=nb.sample_dim))
        return self.proj_drop(nb.aggregate(weights, self.proj))


class DGMN2FFN(BaseModule):
    """fc1 -> act -> dropout -> fc2 -> dropout.

    Args:
        embed_dims (int): Input and output channels.
        feedforward_channels (int): Hidden channels.
        act_cfg (dict): Activation. Defaults to GELU.
        ffn_drop (float): Dropout rate. Defaults to 0.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims,
                 feedforward_channels,
                 act_cfg=dict(type='GELU'),
                 ffn_drop=0.,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.fc1 = nn.Linear(embed_dims, feedforward_channels)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(feedforward_channels, embed_dims)
        self.drop = nn.Dropout(ffn_drop)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class DGMN2Block(PreNormBlock):
    """norm -> DGMN2 attention and norm -> FFN, each with stochastic depth
    and a residual, on tokens ``(B, H * W, C)``.

    Args:
        embed_dims (int): Channels.
        num_heads (int): Attention heads.
        feat_size (tuple[int, int]): Feature size of the relative position
            tables.
        mlp_ratio (float): Hidden/input channel ratio of the FFN.
        qkv_bias (bool): Bias of the qkv and offset projections.
            Defaults to True.
        drop_rate (float): Dropout after the attention projection and in the
            FFN. Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights.
            Defaults to 0.
        drop_path_rate (float): Stochastic depth rate. Defaults to 0.
        act_cfg (dict): Activation of the FFN. Defaults to GELU.
        norm_cfg (dict): Token norm. Defaults to LN with eps 1e-6.
        sampler (str): See :class:`DGMN2Attention`. Defaults to 'auto'.
        with_cp (bool): Use gradient checkpointing. Defaults to False.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims,
                 num_heads,
                 feat_size,
                 mlp_ratio=4.,
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.,
                 act_cfg=dict(type='GELU'),
                 norm_cfg=dict(type='LN', eps=1e-6),
                 sampler='auto',
                 with_cp=False,
                 init_cfg=None):
        super().__init__(
            embed_dims,
            DGMN2Attention(
                embed_dims,
                num_heads,
                feat_size,
                qkv_bias=qkv_bias,
                attn_drop_rate=attn_drop_rate,
                proj_drop_rate=drop_rate,
                sampler=sampler), DGMN2FFN, mlp_ratio, act_cfg, drop_rate,
            norm_cfg, drop_path_rate, with_cp, init_cfg)

    def _forward(self, x, hw_shape):
        x = x + self.drop_path(self.attn(self.norm1(x), hw_shape))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def _conv_bn_relu(in_channels, out_channels, stride, norm_cfg):
    return [
        nn.Conv2d(
            in_channels, out_channels, 3, stride=stride, padding=1,
            bias=False),
        build_norm_layer(norm_cfg, out_channels)[1],
        nn.ReLU(inplace=True),
    ]


def _arch(depths):
    """An official arch: they differ in depth only."""
    return dict(
        embed_dims=[64, 128, 320, 512],
        depths=depths,
        num_heads=[1, 2, 5, 8],
        mlp_ratios=[8, 8, 4, 4])


@MODELS.register_module()
class DGMN2(MogazooBackbone):
    """DGMN2 backbone.

    A PyTorch implementation of `Dynamic Graph Message Passing Networks for
    Visual Recognition <https://arxiv.org/abs/2209.09760>`_ (TPAMI 2022),
    equal in value to the official code. Each of the 4 stages is a
    convolutional patch embedding (3x3 conv, BN, ReLU; three of them with
    stride 2, 1, 2 in the first stage) followed by ``depths[i]``
    :class:`DGMN2Block`; the output of stage ``i`` is the ``(B, C, H, W)``
    map after its blocks (no extra norm, as in the official code), with
    stride ``4 * 2**i`` by default; ``strides=(4, 2, 1, 1)`` keeps stages 3
    and 4 at stride 8, the backbone of the official SETR heads.

    Any input size works: the relative position tables are made for
    ``img_size`` (224 in the official model) and resized to other feature
    sizes as the official detection/segmentation code does; at ``img_size``
    the model is the official classification model.

    Args:
        arch (str | dict): One of ``tiny, small, medium, large`` (aliases
            ``t, s, m, l``), or a dict with keys ``embed_dims``, ``depths``,
            ``num_heads`` and ``mlp_ratios`` (one value per stage).
            Defaults to ``'tiny'``.
        in_channels (int): Input image channels. Defaults to 3.
        img_size (int | tuple[int, int]): Input size the relative position
            tables are made for. Defaults to 224.
        strides (Sequence[int], optional): Down-sampling factor of each
            stage's patch embedding: 4 for the first, 1 or 2 for the others.
            The official segmentation code uses ``(4, 2, 1, 1)`` under its
            SETR heads (``output='decode_head'``); the position tables keep
            their classification sizes either way. None means 4, then 2 for
            every other stage. Defaults to None.
        out_indices (int | Sequence[int]): Stages whose features are
            returned; negative values count from the end. Defaults to -1.
        frozen_stages (int): Stages ``0..frozen_stages`` (patch embedding and
            blocks) are put in eval mode with frozen parameters; -1 freezes
            nothing. Defaults to -1.
        norm_eval (bool): Keep every BatchNorm (in the patch embeddings) in
            eval mode while training. Defaults to False.
        qkv_bias (bool): Bias of the qkv and offset projections.
            Defaults to True.
        drop_rate (float): Dropout after the attention projection and in the
            FFNs. Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights.
            Defaults to 0.
        drop_path_rate (float): Stochastic depth rate, increased linearly
            over the blocks. Defaults to 0.
        norm_cfg (dict): Norm of the patch embeddings (BN in the official
            classification model, SyncBN in its detection/segmentation
            code). Defaults to ``dict(type='BN')``.
        block_norm_cfg (dict): Token norm of the blocks.
            Defaults to ``dict(type='LN', eps=1e-6)``.
        act_cfg (dict): Activation of the FFNs. Defaults to GELU.
        sampler (str): How the 3x3 neighbourhoods are sampled, each path
            kept for a reason (``configs/dgmn2/README.md``):
            ``'grid_sample'`` (``F.grid_sample``, the fastest eager path),
            ``'fused'`` (pixel gathers inside the attention's reductions,
            the fastest under ``torch.compile`` on the CPU), ``'dcn'``
            (values, attention and projection as one mmcv DCNv2: the
            design's path), ``'pytorch'`` (plain gathers, the kernel's
            values exactly: ONNX export, deterministic algorithms) or
            ``'auto'`` (one of them per call, see
            :func:`~mogazoo.models.utils.deform_unfold.resolve_sampler`).
            Every path gives the official values. Defaults to ``'auto'``.
        with_cp (bool): Use gradient checkpointing in the blocks, trading
            compute for memory. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            (checked, see :class:`MogazooBackbone`). Without one, as the
            official code: linear layers truncated normal (std 0.02) with
            zero bias, LayerNorms 1 and 0; convs, BNs and the relative
            position tables (normal, std ``head_dims ** -0.5``) keep their
            construction values. Defaults to None.
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], _arch([2, 2, 2, 2])),
        **dict.fromkeys(['s', 'small'], _arch([3, 4, 6, 3])),
        **dict.fromkeys(['m', 'medium'], _arch([3, 4, 18, 3])),
        **dict.fromkeys(['l', 'large'], _arch([3, 8, 27, 3])),
    }
    arch_keys = ('embed_dims', 'depths', 'num_heads', 'mlp_ratios')
    init_norm_types = (nn.LayerNorm, )

    def __init__(self,
                 arch='tiny',
                 in_channels=3,
                 img_size: Union[int, Sequence[int]] = 224,
                 strides=None,
                 out_indices=-1,
                 frozen_stages=-1,
                 norm_eval=False,
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.,
                 norm_cfg=dict(type='BN'),
                 block_norm_cfg=dict(type='LN', eps=1e-6),
                 act_cfg=dict(type='GELU'),
                 sampler='auto',
                 with_cp=False,
                 init_cfg=None):
        super().__init__(arch, out_indices, frozen_stages, norm_eval,
                         drop_path_rate, init_cfg)
        self.num_heads = self.arch_settings['num_heads']
        self.mlp_ratios = self.arch_settings['mlp_ratios']
        self.strides = (4, ) + (2, ) * (self.num_stages - 1) \
            if strides is None else tuple(strides)
        if (len(self.strides) != self.num_stages or self.strides[0] != 4
                or any(st not in (1, 2) for st in self.strides[1:])):
            raise ValueError(f'strides must be 4 then 1 or 2 for each of the '
                             f'{self.num_stages} stages, got {strides}')
        self.img_size = (img_size, img_size) if isinstance(img_size, int) \
            else tuple(img_size)
        if len(self.img_size) != 2:
            raise ValueError(f'img_size must be an int or (H, W), got '
                             f'{img_size}')

        stage_rates = self.drop_path_rates(drop_path_rate)
        self.patch_embeds = nn.ModuleList()
        self.stages = nn.ModuleList()
        for i, (dims, rates) in enumerate(zip(self.embed_dims, stage_rates)):
            if i == 0:  # stride 4: 3x3 s2, 3x3 s1, 3x3 s2
                mid = dims // 2
                embed = nn.Sequential(
                    *_conv_bn_relu(in_channels, mid, 2, norm_cfg),
                    *_conv_bn_relu(mid, mid, 1, norm_cfg),
                    *_conv_bn_relu(mid, dims, 2, norm_cfg))
            else:
                embed = nn.Sequential(*_conv_bn_relu(self.embed_dims[
                    i - 1], dims, self.strides[i], norm_cfg))
            stride = 4 * 2**i  # the classifier's: sizes the position tables
            feat_size = (self.img_size[0] // stride,
                         self.img_size[1] // stride)
            self.patch_embeds.append(embed)
            self.stages.append(
                nn.ModuleList([
                    DGMN2Block(
                        dims,
                        self.num_heads[i],
                        feat_size,
                        qkv_bias=qkv_bias,
                        drop_rate=drop_rate,
                        attn_drop_rate=attn_drop_rate,
                        mlp_ratio=self.mlp_ratios[i],
                        act_cfg=act_cfg,
                        norm_cfg=block_norm_cfg,
                        sampler=sampler,
                        drop_path_rate=rate,
                        with_cp=with_cp) for rate in rates
                ]))
        self._freeze_stages()

    def check_arch(self, arch):
        super().check_arch(arch)
        for dims, heads in zip(arch['embed_dims'], arch['num_heads']):
            if dims % heads != 0:
                raise ValueError(f'embed_dims {dims} is not divisible by '
                                 f'num_heads {heads} in arch {arch}')

    def forward(self, x):
        outs = []
        for i in range(self.num_stages):
            x = self.patch_embeds[i](x)
            b, c, h, w = x.shape
            x = x.flatten(2).transpose(1, 2)
            for blk in self.stages[i]:
                x = blk(x, (h, w))
            x = x.transpose(1, 2).reshape(b, c, h, w)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _stage_modules(self, i):
        return [self.patch_embeds[i], self.stages[i]]
