"""FasterViT: Fast Vision Transformers with Hierarchical Attention (ICLR 2024).

A reimplementation for mmpretrain of the official model (NVlabs/FasterViT,
``fastervit/models/faster_vit.py`` and ``faster_vit_any_res.py``, as shipped
in the ``fastervit==1.0.0`` package). With the same weights it gives the same
logits; official checkpoints are converted by
``tools/model_converters/fastervit_to_mogazoo.py``.

Sizes are computed from the input at run time, as the official any-resolution
model computes them from its construction resolution: every transformer stage
pads its feature map to a multiple of its window, and a stage with
hierarchical attention (HAT) draws ``ct_size**2`` carrier tokens per window
from the padded map. At the resolution an official model was built for, this
is exactly what the official code computes. Inner module names follow the
official code, so that converting a checkpoint only re-roots key prefixes.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from .base import CheckpointMixin, MogazooBackbone, drop_path_layer


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor, eps 1e-6 by default.

    Unlike mmpretrain's ``LN2d`` the output keeps the channels-last strides
    of the normalization (as timm's ``LayerNorm2d`` that the official model
    uses), so that the convolution after it computes the same numbers.
    """

    def __init__(self, num_channels, eps=1e-6):
        super().__init__(num_channels, eps=eps)

    def forward(self, x):
        x = F.layer_norm(
            x.permute(0, 2, 3, 1), self.normalized_shape, self.weight,
            self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def window_partition(x, window_size):
    """``(B, C, H, W)`` -> ``(B * windows, window_size**2, C)``, windows in
    raster order; ``H`` and ``W`` must be multiples of ``window_size``."""
    B, C, H, W = x.shape
    w = window_size
    x = x.reshape(B, C, H // w, w, W // w, w)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(-1, w * w, C)


def window_reverse(windows, window_size, H, W):
    """Inverse of :func:`window_partition`: -> ``(B, C, H, W)``."""
    w = window_size
    C = windows.shape[2]
    B = windows.shape[0] // ((H // w) * (W // w))
    x = windows.reshape(B, H // w, W // w, w, w, C)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(B, C, H, W)


def carrier_tokens_to_grid(ct, grid, ct_size):
    """Carrier tokens ``(B, N, C)`` stored window by window (the order of
    :class:`TokenInitializer`) -> raster order of their
    ``(ct_size * grid[0]) x (ct_size * grid[1])`` map (official
    ``ct_dewindow``)."""
    B, N, C = ct.shape
    ct = ct.reshape(-1, grid[0], grid[1], ct_size, ct_size, C)
    return ct.permute(0, 5, 1, 3, 2, 4).reshape(B, C, N).transpose(1, 2)


def carrier_tokens_to_windows(ct, grid, ct_size):
    """Raster-ordered carrier tokens ``(B, N, C)`` ->
    ``(B, ., ., ct_size, ct_size, C)`` grouped per window (official
    ``ct_window``).

    For a non-square window grid the official code reads the raster as
    ``grid[1] * ct_size`` rows of ``grid[0] * ct_size`` tokens, which pairs
    windows with carrier tokens of other places; weights were trained with
    that pairing, so it is kept.
    """
    B, N, C = ct.shape
    ct = ct.reshape(B, grid[1], ct_size, grid[0], ct_size, C)
    return ct.permute(0, 1, 3, 2, 4, 5)


_CPB_TABLES = {}


def _cpb_tables(window_size, device):
    """Log-spaced relative coordinates ``(1, 2w-1, 2w-1, 2)`` and relative
    position index ``(w*w, w*w)`` of a ``w x w`` window, computed in fp32 on
    the CPU exactly as the official ``PosEmbMLPSwinv2D`` does, then cached
    per device (as normal tensors even under inference mode, so that a
    cache filled there serves training too)."""
    key = (window_size, str(device))
    if key not in _CPB_TABLES:
        with torch.inference_mode(False):
            _CPB_TABLES[key] = _build_cpb_tables(window_size, device)
    return _CPB_TABLES[key]


def _build_cpb_tables(window_size, device):
    w = window_size
    coords = torch.arange(-(w - 1), w, dtype=torch.float32, device='cpu')
    table = torch.stack(torch.meshgrid([coords, coords], indexing='ij'))
    table = table.permute(1, 2, 0).contiguous().unsqueeze(0)
    table[:, :, :, 0] /= (w - 1)
    table[:, :, :, 1] /= (w - 1)
    table *= 8
    table = torch.sign(table) * torch.log2(torch.abs(table) +
                                           1.0) / math.log2(8)
    pos = torch.arange(w, device='cpu')
    grid = torch.flatten(
        torch.stack(torch.meshgrid([pos, pos], indexing='ij')), 1)
    rel = (grid[:, :, None] - grid[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += w - 1
    rel[:, :, 1] += w - 1
    rel[:, :, 0] *= 2 * w - 1
    index = rel.sum(-1)
    return table.to(device), index.to(device)


class _DeployCache:
    """Deploy mode of the position MLPs (the official ``switch_to_deploy``
    of ``PosEmbMLPSwinv1D``/``PosEmbMLPSwinv2D``): once ``deploy`` is set,
    the MLP's output is computed once per size, device and dtype and reused
    instead of running the MLP at every forward. The cache is not part of
    the ``state_dict`` and is emptied when weights are loaded; the MLP gets
    no gradients in deploy mode, which is meant for inference."""

    deploy = False

    def _cached(self, key, compute):
        if not self.deploy:
            return compute()
        cache = self.__dict__.setdefault('_deploy_cache', {})
        if key not in cache:
            # a normal (not inference-mode) tensor: usable in any mode
            with torch.inference_mode(False), torch.no_grad():
                cache[key] = compute().detach()
        return cache[key]

    def switch_to_deploy(self):
        self.deploy = True
        self.__dict__['_deploy_cache'] = {}

    def _load_from_state_dict(self, *args, **kwargs):
        self.__dict__['_deploy_cache'] = {}
        super()._load_from_state_dict(*args, **kwargs)


class RelativePositionBias(_DeployCache, nn.Module):
    """Log-spaced continuous relative position bias of window attention
    (official ``PosEmbMLPSwinv2D``): an MLP maps the relative coordinates of
    a ``w x w`` window to one bias per head, squashed to ``(0, 16)``; tokens
    before the ``w*w`` window tokens (carrier tokens) get no bias.

    Args:
        num_heads (int): Attention heads.
        hidden_dims (int): Hidden units of the MLP. Defaults to 512.
    """

    def __init__(self, num_heads, hidden_dims=512):
        super().__init__()
        self.num_heads = num_heads
        self.cpb_mlp = nn.Sequential(
            nn.Linear(2, hidden_dims, bias=True), nn.ReLU(inplace=True),
            nn.Linear(hidden_dims, num_heads, bias=False))

    def _bias(self, window_size, n_global, device):
        table, index = _cpb_tables(window_size, device)
        n = window_size * window_size
        bias = self.cpb_mlp(table.to(self.cpb_mlp[0].weight.dtype))
        bias = bias.view(-1, self.num_heads)[index.view(-1)].view(n, n, -1)
        bias = 16 * torch.sigmoid(bias.permute(2, 0, 1).contiguous())
        bias = F.pad(bias, (n_global, 0, n_global, 0)).contiguous()
        return bias.unsqueeze(0)

    def forward(self, num_tokens, window_size, device, dtype):
        """The ``(1, heads, N, N)`` bias of ``num_tokens`` tokens (carrier
        tokens first, then the ``window_size**2`` window tokens), in
        ``dtype`` (the attention's, so that an autocast run adds it as is).
        """
        # ints: sizes are tensors while tracing, and the key must match
        n_global = int(num_tokens) - window_size * window_size
        bias = self._cached((window_size, n_global, device, dtype),
                            lambda: self._bias(window_size, n_global, device))
        return bias.to(dtype)


class TokenPositionEmbedding(_DeployCache, nn.Module):
    """Absolute position embedding of a square token map (official
    ``PosEmbMLPSwinv1D`` with rank 2): an MLP of the normalized 2-D
    coordinates, added to the tokens.

    Args:
        embed_dims (int): Token channels.
        hidden_dims (int): Hidden units of the MLP. Defaults to 512.
    """

    def __init__(self, embed_dims, hidden_dims=512):
        super().__init__()
        self.cpb_mlp = nn.Sequential(
            nn.Linear(2, hidden_dims, bias=True), nn.ReLU(),
            nn.Linear(hidden_dims, embed_dims, bias=False))

    def _embedding(self, side, device, dtype):
        coords = torch.arange(0, side, device=device, dtype=dtype)
        table = torch.stack(torch.meshgrid([coords, coords], indexing='ij'))
        table = table.contiguous().unsqueeze(0)
        table -= side // 2
        table /= side // 2
        return self.cpb_mlp(table.flatten(2).transpose(1, 2))

    def forward(self, x):
        side = int(x.shape[1]**0.5)
        return x + self._cached(
            (side, x.device, x.dtype),
            lambda: self._embedding(side, x.device, x.dtype))


class TokenMlp(nn.Module):
    """fc1 -> GELU -> dropout -> fc2 -> dropout over the last dimension.

    Args:
        embed_dims (int): Input and output channels.
        hidden_dims (int): Hidden channels.
        drop (float): Dropout rate. Defaults to 0.
    """

    def __init__(self, embed_dims, hidden_dims, drop=0.):
        super().__init__()
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dims, embed_dims)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        shape = x.shape
        x = self.drop(self.act(self.fc1(x.reshape(-1, shape[-1]))))
        return self.drop(self.fc2(x)).reshape(shape)


class WindowAttention(nn.Module):
    """Multi-head self-attention over the tokens of a window (carrier tokens
    first, then ``window_size**2`` window tokens) with
    :class:`RelativePositionBias`.

    Args:
        embed_dims (int): Token channels; divisible by ``num_heads``.
        num_heads (int): Attention heads.
        qkv_bias (bool): Learn a bias of the qkv projection.
            Defaults to True.
        attn_drop (float): Dropout of the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection.
            Defaults to 0.
    """

    def __init__(self,
                 embed_dims,
                 num_heads,
                 qkv_bias=True,
                 attn_drop=0.,
                 proj_drop=0.):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (embed_dims // num_heads)**-0.5
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        self.pos_emb_funct = RelativePositionBias(num_heads)

    def forward(self, x, window_size):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, -1, 3, self.num_heads,
                                  C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        # fused attention: softmax(q k^T * scale + bias) v in one kernel
        # (the official code spells out the same sum in four ops)
        bias = self.pos_emb_funct(N, window_size, q.device, q.dtype)
        x = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=bias,
            dropout_p=self.attn_drop.p if self.training else 0.,
            scale=self.scale)
        x = x.transpose(1, 2).reshape(B, -1, C)
        return self.proj_drop(self.proj(x))


def _layer_scale(embed_dims, init_value):
    if init_value is None:
        return None
    return nn.Parameter(init_value * torch.ones(embed_dims))


def _scaled(gamma, x):
    return x if gamma is None else gamma * x


class ConvBlock(CheckpointMixin, BaseModule):
    """Residual block of the first stages: 3x3 conv -> BN -> GELU -> 3x3
    conv -> BN, optional layer scale ``gamma``.

    Args:
        embed_dims (int): Channels.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        layer_scale (float, optional): Initial layer scale; None for none.
            Defaults to None.
        norm_cfg (dict): Norm type; its eps is fixed to the official 1e-5.
            Defaults to ``dict(type='BN')``.
        with_cp (bool): Use gradient checkpointing. Defaults to False.
    """

    def __init__(self,
                 embed_dims,
                 drop_path=0.,
                 layer_scale=None,
                 norm_cfg=dict(type='BN'),
                 with_cp=False):
        super().__init__()
        self.with_cp = with_cp
        norm_cfg = dict(norm_cfg, eps=1e-5)
        self.conv1 = nn.Conv2d(embed_dims, embed_dims, 3, 1, 1)
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.act1 = nn.GELU()
        self.conv2 = nn.Conv2d(embed_dims, embed_dims, 3, 1, 1)
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.gamma = _layer_scale(embed_dims, layer_scale)
        self.drop_path = drop_path_layer(drop_path)

    def _forward(self, x):
        y = self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))
        if self.gamma is not None:
            y = y * self.gamma.view(1, -1, 1, 1)
        return x + self.drop_path(y)


class HATBlock(CheckpointMixin, BaseModule):
    """Hierarchical attention block (official ``HAT``).

    With carrier tokens, these first attend to each other (``hat_*``
    layers); the carrier tokens of each window are then put in front of its
    window tokens for window attention and the MLP, and split off again. In
    the last block of a stage, ``propagation`` adds the carrier tokens,
    up-sampled to the window, to the window tokens.

    Args:
        embed_dims (int): Token channels.
        num_heads (int): Attention heads.
        window_size (int): Side of the attention window.
        mlp_ratio (float): Hidden/input channels of the MLPs. Defaults to 4.
        qkv_bias (bool): Learn qkv biases. Defaults to True.
        drop (float): Dropout of the MLPs and attention outputs.
            Defaults to 0.
        attn_drop (float): Dropout of the attention weights. Defaults to 0.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        layer_scale (float, optional): Initial layer scale; None for none.
            Defaults to None.
        ct_size (int): Side of the carrier-token map of a window.
            Defaults to 2.
        carrier_tokens (bool): Build the carrier-token layers.
            Defaults to False.
        ct_pos_embed (bool): Build the position embedding of the carrier
            tokens; it is applied when the window grid is square, as in the
            official code. Defaults to True.
        last (bool): Whether this is the last block of its stage.
            Defaults to False.
        propagation (bool): Propagate carrier tokens into the window tokens
            after the last block. Defaults to False.
        with_cp (bool): Use gradient checkpointing. Defaults to False.
    """

    def __init__(self,
                 embed_dims,
                 num_heads,
                 window_size,
                 mlp_ratio=4.,
                 qkv_bias=True,
                 drop=0.,
                 attn_drop=0.,
                 drop_path=0.,
                 layer_scale=None,
                 ct_size=2,
                 carrier_tokens=False,
                 ct_pos_embed=True,
                 last=False,
                 propagation=False,
                 with_cp=False):
        super().__init__()
        self.window_size = window_size
        self.ct_size = ct_size
        self.last = last
        self.propagation = propagation
        self.with_cp = with_cp
        hidden = int(embed_dims * mlp_ratio)
        self.pos_embed = TokenPositionEmbedding(embed_dims)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.attn = WindowAttention(embed_dims, num_heads, qkv_bias, attn_drop,
                                    drop)
        self.drop_path = drop_path_layer(drop_path)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.mlp = TokenMlp(embed_dims, hidden, drop)
        self.gamma3 = _layer_scale(embed_dims, layer_scale)
        self.gamma4 = _layer_scale(embed_dims, layer_scale)
        self.hat_pos_embed = None
        self.gamma1 = self.gamma2 = None
        if carrier_tokens:
            self.hat_norm1 = nn.LayerNorm(embed_dims)
            self.hat_norm2 = nn.LayerNorm(embed_dims)
            self.hat_attn = WindowAttention(embed_dims, num_heads, qkv_bias,
                                            attn_drop, drop)
            self.hat_mlp = TokenMlp(embed_dims, hidden, drop)
            self.hat_drop_path = drop_path_layer(drop_path)
            if ct_pos_embed:
                self.hat_pos_embed = TokenPositionEmbedding(embed_dims)
            self.gamma1 = _layer_scale(embed_dims, layer_scale)
            self.gamma2 = _layer_scale(embed_dims, layer_scale)

    def _forward(self, x, ct=None, grid=(1, 1)):
        """Window tokens ``x (B * windows, window_size**2, C)`` and the
        carrier tokens ``ct (B, windows * ct_size**2, C)`` (or None) of a
        ``grid[0] x grid[1]`` window grid -> updated ``(x, ct)``."""
        x = self.pos_embed(x)
        if ct is not None:
            Bg, Ng, C = ct.shape
            ct = carrier_tokens_to_grid(ct, grid, self.ct_size)
            if self.hat_pos_embed is not None and grid[0] == grid[1]:
                ct = self.hat_pos_embed(ct)
            ct = ct + self.hat_drop_path(
                _scaled(self.gamma1,
                        self.hat_attn(self.hat_norm1(ct), int(Ng**0.5))))
            ct = ct + self.hat_drop_path(
                _scaled(self.gamma2, self.hat_mlp(self.hat_norm2(ct))))
            ct = carrier_tokens_to_windows(ct, grid, self.ct_size)
            x = torch.cat((ct.reshape(x.shape[0], -1, C), x), dim=1)
        x = x + self.drop_path(
            _scaled(self.gamma3, self.attn(self.norm1(x), self.window_size)))
        x = x + self.drop_path(_scaled(self.gamma4, self.mlp(self.norm2(x))))
        if ct is not None:
            n = self.window_size * self.window_size
            ctr, x = x.split([x.shape[1] - n, n], dim=1)
            ct = ctr.reshape(Bg, Ng, C)
            if self.last and self.propagation:
                c = self.ct_size
                ct_map = ctr.transpose(1, 2).reshape(x.shape[0], C, c, c)
                ct_map = F.interpolate(
                    ct_map.to(dtype=torch.float32),
                    size=self.window_size,
                    mode='nearest')
                x = x + _scaled(
                    self.gamma1,
                    ct_map.flatten(2).transpose(1, 2).to(dtype=x.dtype))
        return x, ct


class TokenInitializer(nn.Module):
    """Carrier-token initializer: a 3x3 depth-wise conv, then average
    pooling to ``ct_size`` tokens per window side, with the kernel and
    stride of the official code computed from the (padded) map size.

    Args:
        embed_dims (int): Channels.
        window_size (int): Side of the attention window.
        ct_size (int): Side of the carrier-token map of a window.
    """

    def __init__(self, embed_dims, window_size, ct_size):
        super().__init__()
        self.window_size = window_size
        self.ct_size = ct_size
        self.pos_embed = nn.Conv2d(
            embed_dims, embed_dims, 3, padding=1, groups=embed_dims)

    def pool_params(self, size):
        """(kernel, stride) of the pooling along a side of ``size``.

        ``size`` is taken as an int: pooling needs a constant kernel, and a
        tracer (ONNX / TorchScript export) records sizes as tensors."""
        size = int(size)
        out = int(self.ct_size * size / self.window_size)
        stride = int(size / out)
        return size - (out - 1) * stride, stride

    def forward(self, x):
        """``(B, C, H, W)``, sides multiples of the window ->
        ``(B, H * W * ct_size**2 / window_size**2, C)``, window by window."""
        (kh, sh), (kw, sw) = map(self.pool_params, x.shape[-2:])
        x = F.avg_pool2d(self.pos_embed(x), (kh, kw), (sh, sw))
        B, C, H, W = x.shape
        c = self.ct_size
        x = x.reshape(B, C, H // c, c, W // c, c)
        return x.permute(0, 2, 4, 3, 5, 1).reshape(-1, H * W, C)


class FasterViTStage(BaseModule):
    """A stage of :class:`ConvBlock` or of :class:`HATBlock` (then with an
    optional :class:`TokenInitializer` named ``global_tokenizer``).

    A transformer stage pads its input at the right and bottom to multiples
    of ``window_size``, splits it into windows, draws carrier tokens when it
    has a tokenizer and the window grid is larger than 1x1, runs its blocks
    and crops the padding again.

    Args:
        embed_dims (int): Channels.
        depth (int): Number of blocks.
        conv (bool): A stage of conv blocks.
        num_heads (int): Attention heads.
        window_size (int): Side of the attention window.
        ct_size (int): Side of the carrier-token map of a window.
        carrier_tokens (bool): Build the carrier-token layers.
        ct_pos_embed (bool): Build the carrier-token position embedding.
        drop_paths (list[float]): Stochastic depth rate of each block.
        mlp_ratio, qkv_bias, drop, attn_drop, layer_scale, propagation:
            See :class:`HATBlock`.
        layer_scale_conv (float, optional): ``layer_scale`` of the
            :class:`ConvBlock`.
        norm_cfg (dict): Norm of the :class:`ConvBlock`.
        with_cp (bool): Use gradient checkpointing in the blocks.
        tokenizer (bool, optional): Build the carrier-token initializer;
            None builds it with the carrier-token layers. The official
            any-resolution model builds it for every stage with hierarchical
            attention, also one whose blocks have no carrier-token layers
            (a single window at its resolution); it is then not used.
            Defaults to None.
    """

    def __init__(self,
                 embed_dims,
                 depth,
                 conv,
                 num_heads,
                 window_size,
                 ct_size,
                 carrier_tokens,
                 ct_pos_embed,
                 drop_paths,
                 mlp_ratio=4.,
                 qkv_bias=True,
                 drop=0.,
                 attn_drop=0.,
                 layer_scale=None,
                 layer_scale_conv=None,
                 propagation=False,
                 norm_cfg=dict(type='BN'),
                 with_cp=False,
                 tokenizer=None):
        super().__init__()
        self.conv = conv
        self.window_size = window_size
        self.carrier_tokens = carrier_tokens and not conv
        if tokenizer is None:
            tokenizer = carrier_tokens
        if conv:
            self.blocks = nn.ModuleList([
                ConvBlock(
                    embed_dims,
                    drop_path=drop_paths[i],
                    layer_scale=layer_scale_conv,
                    norm_cfg=norm_cfg,
                    with_cp=with_cp) for i in range(depth)
            ])
            self.global_tokenizer = None
            return
        self.blocks = nn.ModuleList([
            HATBlock(
                embed_dims,
                num_heads,
                window_size,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop=drop,
                attn_drop=attn_drop,
                drop_path=drop_paths[i],
                layer_scale=layer_scale,
                ct_size=ct_size,
                carrier_tokens=carrier_tokens,
                ct_pos_embed=ct_pos_embed,
                last=i == depth - 1,
                propagation=propagation,
                with_cp=with_cp) for i in range(depth)
        ])
        self.global_tokenizer = TokenInitializer(
            embed_dims, window_size,
            ct_size) if tokenizer and depth > 0 else None

    def forward(self, x):
        if self.conv:
            for blk in self.blocks:
                x = blk(x)
            return x
        _, _, H, W = x.shape
        w = self.window_size
        pad_b, pad_r = (w - H % w) % w, (w - W % w) % w
        if pad_b or pad_r:
            x = F.pad(x, (0, pad_r, 0, pad_b))
        Hp, Wp = H + pad_b, W + pad_r
        grid = (Hp // w, Wp // w)
        ct = None
        if self.global_tokenizer is not None and self.carrier_tokens and \
                max(grid) > 1:
            ct = self.global_tokenizer(x)
        x = window_partition(x, w)
        for blk in self.blocks:
            x, ct = blk(x, ct, grid)
        x = window_reverse(x, w, Hp, Wp)
        if pad_b or pad_r:
            x = x[:, :, :H, :W].contiguous()
        return x


def _arch(embed_dims,
          depths,
          num_heads,
          window_sizes=(7, 7, 7, 7),
          stem_channels=64,
          hat=(False, False, True, False),
          ct_size=2,
          layer_scale=None,
          propagation=False,
          resolution=224):
    return dict(
        embed_dims=list(embed_dims),
        depths=list(depths),
        num_heads=list(num_heads),
        window_sizes=list(window_sizes),
        stem_channels=stem_channels,
        hat=list(hat),
        ct_size=ct_size,
        layer_scale=layer_scale,
        propagation=propagation,
        resolution=resolution)


def _dims(dim, n=4):
    return [dim * 2**i for i in range(n)]


_H1 = [2, 4, 8, 16]
_H2 = [4, 8, 16, 32]


def _in21k(resolution, windows):
    return _arch(
        _dims(196), [3, 3, 12, 5],
        _H2,
        windows,
        hat=[False] * 4,
        layer_scale=1e-5,
        propagation=True,
        resolution=resolution)


@MODELS.register_module()
class FasterViT(MogazooBackbone):
    """FasterViT backbone.

    A PyTorch implementation of `FasterViT: Fast Vision Transformers with
    Hierarchical Attention <https://arxiv.org/abs/2306.06189>`_ (ICLR 2024),
    equal in value to the official code. A stride-4 conv stem is followed by
    stages of :class:`ConvBlock` (the first ``conv_stages``) and of
    :class:`HATBlock`; each later stage starts with a down-sampling layer
    (LayerNorm2d, 3x3 stride-2 conv). The output of stage ``i`` has stride
    ``4 * 2**i`` and is normalized by ``norms[str(i)]``; the norm of the last
    stage is the official model's final BatchNorm.

    Carrier tokens. A transformer stage with hierarchical attention
    (``hat[i]``) gets carrier-token layers, either

    - ``any_res=False`` (the official ``faster_vit.py``): when, at
      ``resolution``, its feature map holds more than one window along a side
      (the module structure, and thus the checkpoint keys, then depend on
      ``resolution``); or
    - ``any_res=True`` without ``resolution`` (the official
      ``faster_vit_any_res.py`` made resolution-free): always, with the
      carrier-token position embedding ``hat_pos_embed``, so that one model
      serves any input size, e.g. for detection and segmentation (and
      checkpoints of the official 224 models load into it); or
    - ``any_res=True`` with ``resolution`` (the official
      ``faster_vit_any_res.py`` as built for that input size, so that its
      checkpoints load strictly): the stage pads its map at ``resolution``
      to multiples of its window; with a grid of more than one window it
      gets carrier-token layers, and ``hat_pos_embed`` only when that grid
      is square. Its carrier-token initializer is built in any case (the
      official model has it; unused with a single window).

    In every form the number of carrier tokens and their pooling are
    computed from the actual input: each transformer stage pads its map to
    multiples of its window and draws ``ct_size**2`` carrier tokens per
    window when the window grid is larger than 1x1 (with a single window,
    or without carrier-token layers, it runs plain window attention);
    ``hat_pos_embed``, where built, is applied when the window grid is
    square, as the official code does. At the official models' resolutions
    every form gives the official numbers; a checkpoint of an official
    ``faster_vit_<n>_224`` model loads into the first two forms, one of
    ``faster_vit_<n>_any_res(resolution=(H, W))`` into
    ``any_res=True, resolution=(H, W)``.

    Args:
        arch (str | int | dict): ``'0'``-``'6'`` (FasterViT-0..6, also as
            ints or the official names ``'faster_vit_0_224'``...), the
            ImageNet-21K FasterViT-4 models ``'4-21k-224'``,
            ``'4-21k-384'``, ``'4-21k-512'``, ``'4-21k-768'`` (also
            ``'faster_vit_4_21k_384'``...), or a dict with the keys
            ``embed_dims``, ``depths``, ``num_heads``, ``window_sizes``,
            ``hat`` (one value per stage) and optionally ``stem_channels``
            (64), ``ct_size`` (2), ``mlp_ratio`` (4), ``layer_scale``
            (None), ``layer_scale_conv`` (None), ``propagation`` (False),
            ``conv_stages`` (2) and ``resolution`` (224). Defaults to
            ``'0'``.
        in_channels (int): Input image channels. Defaults to 3.
        resolution (int | Sequence[int], optional): Input size ``(H, W)``
            the structure is built for (see above). With ``any_res=False``,
            None takes the arch's (224, or that of the 21K model); with
            ``any_res=True``, None builds every carrier-token layer, and a
            size builds the layers the official any-resolution model built
            for that size has. Defaults to None.
        any_res (bool): Build the carrier-token layers of the official
            any-resolution model (see above). Defaults to False.
        window_sizes (Sequence[int], optional): Window side per stage
            (entries of conv stages are unused); None takes the arch's.
            Defaults to None.
        ct_size (int, optional): Side of the carrier-token map of a window;
            None takes the arch's (2). Defaults to None.
        hat (Sequence[bool], optional): Hierarchical attention per stage;
            None takes the arch's. Defaults to None.
        out_indices (int | Sequence[int]): Stages whose (normed) features are
            returned; negative values count from the end. Only these stages
            get an output norm. Defaults to -1.
        frozen_stages (int): Stages ``0..frozen_stages`` (stem or
            down-sampling layer, blocks, output norm) are put in eval mode
            with frozen parameters; -1 freezes nothing. Defaults to -1.
        norm_eval (bool): Keep every BatchNorm in eval mode while training
            (frozen running statistics). Defaults to False.
        drop_rate (float): Dropout in the MLPs and after attention
            projections. Defaults to 0.
        attn_drop_rate (float): Dropout of the attention weights.
            Defaults to 0.
        drop_path_rate (float): Stochastic depth rate, increased linearly
            over the blocks. Defaults to 0.
        qkv_bias (bool): Learn qkv biases. Defaults to True.
        norm_cfg (dict): Type of the batch norms of the stem, conv blocks and
            stage outputs (e.g. ``dict(type='SyncBN')``); the stem and conv
            blocks keep the official eps (1e-4, 1e-5), the output norms take
            ``norm_cfg`` as given. Defaults to ``dict(type='BN')``.
        with_cp (bool): Use gradient checkpointing in the blocks, trading
            compute for memory. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            (checked, see :class:`MogazooBackbone`). Without one, weights
            get the official initialization: linear layers truncated normal
            (std 0.02) with zero bias, norms 1 and 0, convs PyTorch's
            default.
            Defaults to None.
    """
    arch_zoo = {
        **dict.fromkeys(['0', 'faster_vit_0_224'], _arch(
            _dims(64), [2, 3, 6, 5], _H1, stem_channels=64)),
        **dict.fromkeys(['1', 'faster_vit_1_224'], _arch(
            _dims(80), [1, 3, 8, 5], _H1, stem_channels=32)),
        **dict.fromkeys(['2', 'faster_vit_2_224'], _arch(
            _dims(96), [3, 3, 8, 5], _H1)),
        **dict.fromkeys(['3', 'faster_vit_3_224'], _arch(
            _dims(128), [3, 3, 12, 5], _H1, layer_scale=1e-5,
            propagation=True)),
        **dict.fromkeys(['4', 'faster_vit_4_224'], _arch(
            _dims(196), [3, 3, 12, 5], _H2, layer_scale=1e-5,
            propagation=True)),
        **dict.fromkeys(['5', 'faster_vit_5_224'], _arch(
            _dims(320), [3, 3, 12, 5], _H2, layer_scale=1e-5,
            propagation=True)),
        **dict.fromkeys(['6', 'faster_vit_6_224'], _arch(
            _dims(320), [3, 3, 16, 8], _H2, layer_scale=1e-5,
            propagation=True)),
        **dict.fromkeys(['4-21k-224', 'faster_vit_4_21k_224'],
                        _in21k(224, [7, 7, 14, 7])),
        **dict.fromkeys(['4-21k-384', 'faster_vit_4_21k_384'],
                        _in21k(384, [7, 7, 24, 12])),
        **dict.fromkeys(['4-21k-512', 'faster_vit_4_21k_512'],
                        _in21k(512, [7, 7, 32, 16])),
        **dict.fromkeys(['4-21k-768', 'faster_vit_4_21k_768'],
                        _in21k(768, [7, 7, 48, 24])),
    }  # yapf: disable

    arch_keys = ('embed_dims', 'depths', 'num_heads', 'window_sizes', 'hat')
    arch_defaults = dict(
        stem_channels=64,
        ct_size=2,
        mlp_ratio=4.,
        layer_scale=None,
        layer_scale_conv=None,
        propagation=False,
        conv_stages=2,
        resolution=224)
    stage_keys = ('embed_dims', 'num_heads', 'window_sizes', 'hat')

    def __init__(self,
                 arch='0',
                 in_channels=3,
                 resolution=None,
                 any_res=False,
                 window_sizes=None,
                 ct_size=None,
                 hat=None,
                 out_indices=-1,
                 frozen_stages=-1,
                 norm_eval=False,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.,
                 qkv_bias=True,
                 norm_cfg=dict(type='BN'),
                 with_cp=False,
                 init_cfg=None):
        super().__init__(
            arch,
            out_indices,
            frozen_stages,
            norm_eval,
            drop_path_rate,
            init_cfg,
            window_sizes=None if window_sizes is None else list(window_sizes),
            ct_size=ct_size,
            hat=None if hat is None else list(hat))
        arch = self.arch_settings
        if resolution is None and not any_res:
            resolution = arch['resolution']
        # None: an any-res model with every carrier-token layer
        self.resolution = None
        if resolution is not None:
            self.resolution = tuple(resolution) if isinstance(
                resolution, (list, tuple)) else (resolution, resolution)
            if len(self.resolution) != 2:
                raise ValueError('resolution must be an int or (H, W), '
                                 f'got {resolution!r}')

        stem_cfg = dict(norm_cfg, eps=1e-4)
        stem = arch['stem_channels']
        self.patch_embeds = nn.ModuleList([
            nn.Sequential(
                nn.Conv2d(in_channels, stem, 3, 2, 1, bias=False),
                build_norm_layer(stem_cfg, stem)[1], nn.ReLU(),
                nn.Conv2d(stem, self.embed_dims[0], 3, 2, 1, bias=False),
                build_norm_layer(stem_cfg, self.embed_dims[0])[1], nn.ReLU())
        ])
        for i in range(1, self.num_stages):
            self.patch_embeds.append(
                nn.Sequential(
                    LayerNorm2d(self.embed_dims[i - 1], eps=1e-6),
                    nn.Conv2d(
                        self.embed_dims[i - 1],
                        self.embed_dims[i],
                        3,
                        2,
                        1,
                        bias=False)))
        stage_rates = self.drop_path_rates(drop_path_rate)
        self.stages = nn.ModuleList()
        for i, depth in enumerate(self.depths):
            conv = i < arch['conv_stages']
            window = arch['window_sizes'][i]
            carrier, pos_embed, tokenizer = self._carrier_layers(
                i, window, not conv and arch['hat'][i], any_res)
            self.stages.append(
                FasterViTStage(
                    self.embed_dims[i],
                    depth,
                    conv,
                    arch['num_heads'][i],
                    window,
                    arch['ct_size'],
                    carrier_tokens=carrier,
                    ct_pos_embed=pos_embed,
                    drop_paths=stage_rates[i],
                    mlp_ratio=arch['mlp_ratio'],
                    qkv_bias=qkv_bias,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    layer_scale=arch['layer_scale'],
                    layer_scale_conv=arch['layer_scale_conv'],
                    propagation=arch['propagation'],
                    norm_cfg=norm_cfg,
                    with_cp=with_cp,
                    tokenizer=tokenizer))
        self.norms = nn.ModuleDict({
            str(i):
            build_norm_layer(norm_cfg, self.embed_dims[i])[1]
            for i in self.out_indices
        })
        self._freeze_stages()

    @classmethod
    def parse_arch(cls, arch):
        """Also an int (``3`` for ``'3'``)."""
        if isinstance(arch, int) and not isinstance(arch, bool):
            arch = str(arch)
        return super().parse_arch(arch)

    @classmethod
    def arch_key(cls, name):
        """Also ``'fastervit-3'`` for ``'3'``."""
        key = name.lower()
        return key[len('fastervit-'):] if key.startswith('fastervit-') \
            else key

    def check_arch(self, arch):
        super().check_arch(arch)
        n = len(arch['depths'])
        if not 0 <= arch['conv_stages'] <= n:
            raise ValueError(f'conv_stages must be in 0..{n}, got '
                             f'{arch["conv_stages"]}')
        for i in range(arch['conv_stages'], n):
            dims, heads = arch['embed_dims'][i], arch['num_heads'][i]
            if dims % heads:
                raise ValueError(f'stage {i}: embed_dims {dims} is not '
                                 f'divisible by num_heads {heads}')
            if arch['window_sizes'][i] < 2:
                raise ValueError(f'stage {i}: window size must be >= 2, got '
                                 f'{arch["window_sizes"][i]}')
        if arch['ct_size'] < 1:
            raise ValueError(f'ct_size must be >= 1, got {arch["ct_size"]}')

    def _windows_per_side(self, stage, window):
        """Most windows along a side of stage ``stage`` at ``resolution``,
        counted as the official ``faster_vit.py`` does."""
        return max(int(2**(-2 - stage) * r) // window for r in self.resolution)

    def _window_grid(self, stage, window):
        """Windows ``(rows, columns)`` of stage ``stage`` at ``resolution``
        after padding, as the official ``faster_vit_any_res.py`` counts
        them (its ``sr_ratio``)."""
        return tuple(-(-int(2**(-2 - stage) * r) // window)
                     for r in self.resolution)

    def _carrier_layers(self, stage, window, hat, any_res):
        """Whether stage ``stage`` (hierarchical attention: ``hat``) builds
        ``(carrier-token layers, hat_pos_embed, carrier-token
        initializer)``, as the official model of the form ``any_res`` does.
        """
        if not hat:
            return False, False, False
        if not any_res:  # faster_vit.py
            carrier = self._windows_per_side(stage, window) > 1
            return carrier, carrier, carrier
        if self.resolution is None:  # every layer, for any input
            return True, True, True
        # faster_vit_any_res.py built at ``resolution``: HAT.do_sr_hat,
        # HAT.square and FasterViTLayer.do_gt
        rows, cols = self._window_grid(stage, window)
        carrier = max(rows, cols) > 1
        return carrier, carrier and rows == cols, True

    def forward(self, x):
        outs = []
        for i in range(self.num_stages):
            x = self.stages[i](self.patch_embeds[i](x))
            if i in self.out_indices:
                outs.append(self.norms[str(i)](x))
        return tuple(outs)

    def switch_to_deploy(self):
        """Deploy mode (the official ``switch_to_deploy``): every position
        bias/embedding MLP is run once per window or token-map size (and
        device and dtype) at its first use and its output reused, so
        inference no longer runs the MLPs. Outputs are unchanged; the MLP
        weights stay (checkpoints keep their keys) but no longer get
        gradients, so switch only for inference. Loading weights afterwards
        refreshes the cache."""
        for m in self.modules():
            if isinstance(m, _DeployCache):
                m.switch_to_deploy()

    def _stage_modules(self, i):
        mods = [self.patch_embeds[i], self.stages[i]]
        if str(i) in self.norms:
            mods.append(self.norms[str(i)])
        return mods

    def _layer_depth(self, name):
        """The stem is layer 0, a stage's down-sampling layer and
        carrier-token initializer go with its first block, an output norm
        with its last."""
        if name[0] == 'patch_embeds':
            i = int(name[1])
            return 0 if i == 0 else sum(self.depths[:i]) + 1
        if name[0] == 'stages':
            i = int(name[1])
            block = int(name[3]) if name[2] == 'blocks' else 0
            return sum(self.depths[:i]) + block + 1
        return super()._layer_depth(name)
