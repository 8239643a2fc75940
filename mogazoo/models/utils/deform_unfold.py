"""Deformable unfold: ``F.unfold`` that samples at learned offsets.

DGMN2 (fudan-zvg/DGMN2) gathers, for every output position, the values of
``kh * kw`` neighbours displaced by predicted offsets with its own CUDA-only
``DeformUnfold`` kernel (``dcn/src/deform_conv_cuda_kernel.cu``,
``deformable_im2col_gpu_kernel``). Its semantics, which every path below
follows:

* output position ``(h, w)``, kernel point ``k = i * kw + j`` (row-major) is
  sampled at ``(h * sh - ph + i * dh + offset[:, 2k, h, w],
  w * sw - pw + j * dw + offset[:, 2k + 1, h, w])``: the offset channels are
  ``(dy, dx)`` pairs, one pair per kernel point;
* the value is bilinear in the 4 neighbouring pixels, each pixel outside the
  image counting as zero, and the whole sample is zero unless
  ``-1 < y < H`` and ``-1 < x < W``;
* the output is laid out channel-major like ``F.unfold``:
  ``out[n, c * kh * kw + k, h * Wo + w]``;
* the offsets are shared by all channels (one deformable group).

The sampler names of DGMN2 (``SAMPLERS``), each kept for a measured or a
stated reason (numbers in ``configs/dgmn2/README.md``):

* ``'grid_sample'`` (:func:`deform_unfold_grid_sample`): the fastest eager
  path on CPU and GPU, what ``'auto'`` takes eagerly.
* ``'fused'`` (:func:`bilinear_cells`): the attention with every sample as
  four pixel gathers inside its two reductions; the fastest path under
  ``torch.compile`` on the CPU, what ``'auto'`` takes there.
* ``'dcn'`` (:func:`deform_aggregate`): the design's path, the attention's
  value aggregation and projection as one mmcv modulated deformable
  convolution (DCNv2); it needs mmcv's compiled ops.
* ``'pytorch'`` (:func:`deform_unfold_pytorch`): plain PyTorch, the kernel's
  arithmetic exactly; for ONNX export and deterministic algorithms, where
  ``'auto'`` takes it, and the reference of the tests.
* ``'auto'`` (:func:`resolve_sampler`), the default: one of the above per
  call.
"""
import functools
from typing import Tuple, Union

import torch
import torch.nn as nn
from torch.nn.modules.utils import _pair

from . import custom_ops
from .custom_ops import grid_sample_bilinear_zeros

SAMPLERS = ('auto', 'dcn', 'fused', 'pytorch', 'grid_sample')
# What 'auto' takes eagerly, on every device: grid_sample, the fastest eager
# path measured (DGMN2-T on 2 CPU threads: x1.6-1.9 'dcn' in inference, x3.8
# in training; on an H200 x1.85 the gather path in fp32 inference).
AUTO_SAMPLER = 'grid_sample'
# What 'auto' takes while torch.compile traces, per device type (anything
# but 'cuda' counts as 'cpu'): on the CPU 'fused', x1.75 compiled
# 'grid_sample' in inference and x1.26-1.43 in training (DGMN2-T, 2 threads,
# batch 16); not measured on a GPU (tools/analysis_tools/gpu_kit.py has the
# row), so grid_sample there.
AUTO_SAMPLER_COMPILED = {'cpu': 'fused', 'cuda': 'grid_sample'}


@functools.lru_cache(maxsize=None)
def _mmcv_deform_conv():
    """mmcv's ``modulated_deform_conv2d`` (as the custom operator of
    :mod:`.custom_ops`, which ``torch.compile`` traces) or None when the
    compiled ops are missing (mmcv-lite, or a build that failed)."""
    return custom_ops.modulated_deform_conv2d if custom_ops.available(
    ) else None


@functools.lru_cache(maxsize=None)
def _mmcv_has_cuda():
    """Whether mmcv's extension holds CUDA kernels, found by running the op
    once on a tiny CUDA tensor (mmcv raises when its build has no CUDA
    implementation). ``mmcv.ops.get_compiling_cuda_version`` is not asked:
    in an mmcv 2.1.0 built with CUDA 13 and C++20 against torch 2.11 it
    crashed the interpreter, while the ops themselves ran."""
    ops = _mmcv_deform_conv()
    if ops is None or not torch.cuda.is_available():
        return False
    try:
        x = torch.zeros(1, 1, 3, 3, device='cuda')
        ops(x, x.new_zeros(1, 18, 3, 3), x.new_ones(1, 9, 3, 3),
            x.new_zeros(1, 1, 3, 3), None, 1, 1, 1, 1, 1)
    except RuntimeError:
        return False
    return True


def mmcv_available(device: Union[str, torch.device] = 'cpu') -> bool:
    """Whether mmcv's compiled modulated deformable conv (``'dcn'``) runs on
    ``device``."""
    if _mmcv_deform_conv() is None:
        return False
    device = torch.device(device)
    if device.type == 'cpu':
        return True
    if device.type == 'cuda':
        return _mmcv_has_cuda()
    return False


def _out_size(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - (dilation * (kernel - 1) + 1)) // stride + 1


def _check(input, offset, kernel_size, stride, padding, dilation):
    """Validate the shapes; returns the geometry as ``(kh, kw)``-style pairs
    and the output size ``(kernel_size, stride, padding, dilation, out_h,
    out_w)``."""
    kernel_size, stride = _pair(kernel_size), _pair(stride)
    padding, dilation = _pair(padding), _pair(dilation)
    if input.dim() != 4 or offset.dim() != 4:
        raise ValueError('deform_unfold expects 4-D input and offset, got '
                         f'{tuple(input.shape)} and {tuple(offset.shape)}')
    kh, kw = kernel_size
    out_h = _out_size(input.shape[2], kh, stride[0], padding[0], dilation[0])
    out_w = _out_size(input.shape[3], kw, stride[1], padding[1], dilation[1])
    if out_h < 1 or out_w < 1:
        raise ValueError(f'input of size {tuple(input.shape[2:])} is too '
                         f'small for a {kh}x{kw} kernel')
    expect = (input.shape[0], 2 * kh * kw, out_h, out_w)
    if tuple(offset.shape) != expect:
        raise ValueError(f'offset must have shape {expect} (batch, 2 * kh * '
                         f'kw, out_h, out_w), got {tuple(offset.shape)}')
    return kernel_size, stride, padding, dilation, out_h, out_w


def _sample_positions(offset, out_h, out_w, kernel_size, stride, padding,
                      dilation, dtype):
    """Pixel coordinates ``(y, x)``, each ``(N, K, Ho, Wo)``, of every
    kernel point of every output position: the integer base position,
    converted to ``dtype`` once, plus the offset (as the kernel adds a float
    offset to an int position)."""
    (kh, kw), dev = kernel_size, offset.device
    num_points = kh * kw
    offset = offset.to(dtype).reshape(-1, num_points, 2, out_h, out_w)
    base_y = (torch.arange(out_h, device=dev) * stride[0] - padding[0]).view(
        1, 1, out_h, 1) + (torch.arange(kh, device=dev) *
                           dilation[0]).repeat_interleave(kw).view(
                               1, num_points, 1, 1)
    base_x = (torch.arange(out_w, device=dev) * stride[1] - padding[1]).view(
        1, 1, 1, out_w) + (torch.arange(kw, device=dev) *
                           dilation[1]).repeat(kh).view(1, num_points, 1, 1)
    return (base_y.to(dtype) + offset[:, :, 0],
            base_x.to(dtype) + offset[:, :, 1])


def deform_unfold_pytorch(input: torch.Tensor,
                          offset: torch.Tensor,
                          kernel_size=3,
                          stride=1,
                          padding=1,
                          dilation=1) -> torch.Tensor:
    """Deformable unfold in plain PyTorch (``sampler='pytorch'``).

    Explicit bilinear sampling with ``torch.gather``: the products and sums
    of the kernel, in its order (values equal to it exactly), on any device
    and dtype. Never the fastest (x0.4 ``'grid_sample'`` in CPU inference,
    x0.54 on an H200), it is kept for what the others cannot do: ONNX export
    (the other paths are opaque operators; ``'auto'`` takes this one while
    exporting, and ``mogazoo.deployment.export`` sets it), deterministic
    algorithms (``F.grid_sample``'s CUDA backward adds atomically;
    ``'auto'`` takes this one under ``torch.use_deterministic_algorithms``),
    and as the exact reference the tests compare every path with.

    Args:
        input (Tensor): ``(N, C, H, W)``.
        offset (Tensor): ``(N, 2 * kh * kw, Ho, Wo)``, ``(dy, dx)`` per kernel
            point.
        kernel_size, stride, padding, dilation (int | tuple[int, int]): As in
            ``F.unfold``.

    Returns:
        Tensor: ``(N, C * kh * kw, Ho * Wo)``, channel-major as ``F.unfold``.
    """
    (kernel_size, stride, padding, dilation, out_h,
     out_w) = _check(input, offset, kernel_size, stride, padding, dilation)
    n, c, h, w = input.shape
    kh, kw = kernel_size
    num_points = kh * kw
    y, x = _sample_positions(offset, out_h, out_w, kernel_size, stride,
                             padding, dilation, input.dtype)
    inside = (y > -1) & (x > -1) & (y < h) & (x < w)

    y_low_f = torch.floor(y)
    x_low_f = torch.floor(x)
    ly = y - y_low_f
    lx = x - x_low_f
    hy = 1 - ly
    hx = 1 - lx
    y_low = y_low_f.long()
    x_low = x_low_f.long()
    y_high = y_low + 1
    x_high = x_low + 1
    y_low_ok = y_low >= 0
    y_high_ok = y_high <= h - 1
    x_low_ok = x_low >= 0
    x_high_ok = x_high <= w - 1

    flat = input.reshape(n, c, h * w)
    length = num_points * out_h * out_w
    zero = input.new_zeros(())

    def corner(yi, xi, y_ok, x_ok, weight):
        # weight of an invalid corner (or of a sample outside the image) is
        # zero; the index is clamped so that the gather stays in range
        ok = y_ok & x_ok & inside
        index = yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)
        index = index.reshape(n, 1, length)  # offsets may be views
        value = torch.gather(flat, 2, index.expand(n, c, length))
        return torch.where(ok, weight, zero).reshape(n, 1, length) * value

    # the kernel's sum: w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4, in this order
    out = corner(y_low, x_low, y_low_ok, x_low_ok, hy * hx)
    out = out + corner(y_low, x_high, y_low_ok, x_high_ok, hy * lx)
    out = out + corner(y_high, x_low, y_high_ok, x_low_ok, ly * hx)
    out = out + corner(y_high, x_high, y_high_ok, x_high_ok, ly * lx)
    # (N, C, K * Ho * Wo) -> (N, C * K, Ho * Wo): channel-major
    return out.view(n, c * num_points, out_h * out_w)


def deform_unfold_grid_sample(input: torch.Tensor,
                              offset: torch.Tensor,
                              kernel_size=3,
                              stride=1,
                              padding=1,
                              dilation=1) -> torch.Tensor:
    """Deformable unfold on ``F.grid_sample`` (``sampler='grid_sample'``).

    Kept as the fastest eager path on CPU and GPU, what ``'auto'`` takes
    eagerly: one fused kernel per call, forward and backward (DGMN2-T:
    x1.6-1.9 ``'dcn'`` in CPU inference, x3.8 in training; x1.85 the gather
    path on an H200). Bilinear sampling with zeros outside the image is the
    kernel's rule (a sample at ``y <= -1`` or ``y >= H`` has no pixel inside
    among its four neighbours), so one call over all kernel points gives the
    same values, with the positions passed as normalised coordinates
    (``align_corners=False``: ``(2 * x + 1) / W - 1``), rounded once more
    (values within ~1e-6 relative in fp32). Half and bfloat16 inputs are
    sampled in float32 and the result cast back.

    Args:
        input, offset, kernel_size, stride, padding, dilation: See
            :func:`deform_unfold_pytorch`.

    Returns:
        Tensor: ``(N, C * kh * kw, Ho * Wo)``, channel-major as ``F.unfold``.
    """
    (kernel_size, stride, padding, dilation, out_h,
     out_w) = _check(input, offset, kernel_size, stride, padding, dilation)
    n, c, h, w = input.shape
    num_points = kernel_size[0] * kernel_size[1]
    dtype = input.dtype
    compute = dtype if dtype == torch.float64 else torch.float32
    y, x = _sample_positions(offset, out_h, out_w, kernel_size, stride,
                             padding, dilation, compute)
    grid = torch.stack(((2 * x + 1) / w - 1, (2 * y + 1) / h - 1), dim=-1)
    # F.grid_sample as an opaque operator (see custom_ops: inductor's own
    # decomposition of it corrupted memory on the CPU)
    out = grid_sample_bilinear_zeros(
        input.to(compute), grid.view(n, num_points * out_h, out_w, 2))
    # (N, C, K * Ho, Wo) -> (N, C * K, Ho * Wo): channel-major
    return out.reshape(n, c * num_points, out_h * out_w).to(dtype)


def bilinear_cells(offset: torch.Tensor, height: int,
                   width: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The 3x3 (padding 1) deformable sampling rule of the module doc as one
    2x2 pixel cell inside the map and four weights per sample: the sampling
    of ``sampler='fused'``.

    A sample at ``(y, x)`` is bilinear in the pixels ``(y0 + i, x0 + j)``,
    ``y0 = floor(y)``, ``i, j`` in {0, 1}, pixels outside the map counting
    as zero. Here the cell's top-left pixel is ``(cy, cx) = (clamp(y0, 0,
    H - 2), clamp(x0, 0, W - 2))``, always inside, and each of its four
    pixels gets the bilinear weight of the pixel it is (zero if it is not
    one of the sample's neighbours): a sample at ``y0 = -1`` weighs row 0 by
    ``y - y0`` and row 1 by 0, one at ``y0 = H - 1`` weighs row ``H - 2`` by
    0 and row ``H - 1`` by ``1 - (y - y0)``, and one further outside weighs
    all four by 0. So every sample reads exactly four in-range pixels, at
    flat token indices ``cell``, ``cell + 1``, ``cell + W`` and ``cell + W +
    1``: gathers that ``torch.compile`` fuses into the reductions that
    consume them, so the 9x-sized samples are never stored. Kept as the
    fastest path under ``torch.compile`` on the CPU, what ``'auto'`` takes
    there (DGMN2-T: x1.75 compiled ``'grid_sample'`` in inference, x1.26-1.43
    in training, the least memory); eagerly it is slower than
    ``'grid_sample'``.

    Args:
        offset (Tensor): ``(B, H * W, G, 9, 2)``, the ``(dy, dx)`` of every
            token (row-major over the map), group and kernel point
            (row-major over the 3x3 kernel).
        height (int): Map height ``H`` (at least 2).
        width (int): Map width ``W`` (at least 2).

    Returns:
        tuple[Tensor, Tensor]: ``cell`` ``(B, H * W, G, 9)`` int64, the flat
        index ``b * H * W + cy * W + cx`` of the cell's top-left pixel, and
        ``weights`` ``(B, H * W, G, 9, 4)`` for its pixels in the order
        top-left, top-right, bottom-left, bottom-right, computed in float32
        for half and bfloat16 offsets (cast back).
    """
    if height < 2 or width < 2:
        raise ValueError(f'bilinear_cells needs a map of at least 2x2, got '
                         f'{height}x{width}')
    b, n = offset.shape[:2]
    if offset.dim() != 5 or n != height * width or offset.shape[3:] != (9, 2):
        raise ValueError(f'offset must have shape (B, {height * width}, G, '
                         f'9, 2), got {tuple(offset.shape)}')
    dtype, dev = offset.dtype, offset.device
    compute = dtype if dtype in (torch.float32, torch.float64) else \
        torch.float32
    offset = offset.to(compute)
    point = torch.arange(9, device=dev)
    rows = torch.arange(height, device=dev).repeat_interleave(width)
    cols = torch.arange(width, device=dev).repeat(height)
    # integer base positions (token + kernel point - padding), then + offset
    y = (rows[:, None] + point // 3 - 1).to(compute)[:, None] + \
        offset[..., 0]
    x = (cols[:, None] + point % 3 - 1).to(compute)[:, None] + \
        offset[..., 1]
    zero = offset.new_zeros(())

    def axis(pos, size):
        """Cell origin along one axis and the weights of its two lines."""
        low = pos.floor()
        frac = pos - low
        origin = low.clamp(0, size - 2)
        inside = low == origin
        first = torch.where(inside, 1 - frac,
                            torch.where(low == -1, frac, zero))
        second = torch.where(inside, frac,
                             torch.where(low == size - 1, 1 - frac, zero))
        return origin.long(), first, second

    cy, wy0, wy1 = axis(y, height)
    cx, wx0, wx1 = axis(x, width)
    weights = torch.stack((wy0 * wx0, wy0 * wx1, wy1 * wx0, wy1 * wx1), -1)
    batch = torch.arange(b, device=dev).view(b, 1, 1, 1) * n
    return batch + cy * width + cx, weights.to(dtype)


def deform_aggregate(value: torch.Tensor,
                     offset: torch.Tensor,
                     weights: torch.Tensor,
                     proj_weight: torch.Tensor,
                     proj_bias: torch.Tensor = None) -> torch.Tensor:
    """Attention over deformed 3x3 neighbourhoods, then a linear projection,
    as one mmcv modulated deformable convolution (DCNv2): the value side of
    ``sampler='dcn'``.

    ``out[:, o, p] = sum_c P[o, c] sum_k weights[:, g(c), k, p] *
    value[:, c](p + p_k + offset[:, g(c), k, p]) + bias[o]`` where ``g(c)``
    is the head (deformable group) of channel ``c`` (channels head-major)
    and ``p_k`` the 3x3 kernel points (row-major), sampled as
    :func:`deform_unfold`. This is ``ModulatedDeformConv2d(C, C_out, 3,
    padding=1, deform_groups=heads)`` with the mask ``weights`` and the
    kernel ``W[o, c, k] = P[o, c]``: one im2col and one GEMM per image in
    place of a value unfold, a weighted sum and the projection. ``P`` is the
    projection's parameter, tied, so gradients reach it and checkpoints keep
    their keys. Kept as the design's path: the attention on mmcv's DCNv2 as
    DCNv2 is meant to be run (and the least working memory of the eager
    paths); on the CPU mmcv's serial im2col keeps it behind
    ``'grid_sample'`` (x0.54-0.64 in inference). Needs mmcv's compiled ops.

    Args:
        value (Tensor): ``(B, C, H, W)``, channels grouped by head.
        offset (Tensor): ``(B, heads, 9, 2, H, W)``, ``(dy, dx)`` per head
            and kernel point.
        weights (Tensor): ``(B, heads, 9, H, W)`` attention weights.
        proj_weight (Tensor): ``(C_out, C)``.
        proj_bias (Tensor, optional): ``(C_out, )``.

    Returns:
        Tensor: ``(B, C_out, H, W)``.
    """
    ops = _mmcv_deform_conv()
    if ops is None:
        raise RuntimeError("sampler='dcn' needs mmcv with compiled ops "
                           '(mmcv.ops.modulated_deform_conv2d)')
    b, c, h, w = value.shape
    heads = offset.shape[1]
    if offset.shape != (b, heads, 9, 2, h, w) or \
            weights.shape != (b, heads, 9, h, w) or c % heads:
        raise ValueError(
            f'deform_aggregate: value {tuple(value.shape)}, offset '
            f'{tuple(offset.shape)} and weights {tuple(weights.shape)} do '
            'not match (B, C, H, W), (B, heads, 9, 2, H, W), '
            '(B, heads, 9, H, W)')
    dtype = value.dtype
    # mmcv's CPU kernels are compiled for float and double only (and read
    # raw memory: the operator makes every tensor contiguous)
    compute = torch.float32 if (value.device.type == 'cpu'
                                and dtype not in (torch.float32,
                                                  torch.float64)) else dtype
    out_channels = proj_weight.shape[0]
    weight = proj_weight.to(compute)[:, :, None,
                                     None].expand(out_channels, c, 3, 3)
    bias = None if proj_bias is None else proj_bias.to(compute)
    out = ops(
        value.to(compute),
        offset.to(compute).reshape(b, heads * 18, h, w),
        weights.to(compute).reshape(b, heads * 9, h, w), weight, bias, 1, 1, 1,
        1, heads)
    return out.to(dtype)


def check_sampler(sampler: str) -> str:
    """Return ``sampler`` if it names a sampling path (``SAMPLERS``, see the
    module doc) that can run here; the one place the name is checked.

    Raises:
        ValueError: An unknown name (the message lists the valid ones).
        RuntimeError: ``'dcn'`` without mmcv's compiled ops.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f'Unknown DGMN2 sampler {sampler!r}; choose one of '
                         f'{", ".join(map(repr, SAMPLERS))}')
    if sampler == 'dcn' and _mmcv_deform_conv() is None:
        raise RuntimeError("sampler='dcn' needs mmcv with compiled ops "
                           '(mmcv.ops.modulated_deform_conv2d)')
    return sampler


def resolve_sampler(sampler: str, device: Union[str, torch.device]) -> str:
    """The path a checked ``sampler`` takes on ``device``: itself, or for
    ``'auto'`` ``'pytorch'`` while exporting to ONNX or with deterministic
    algorithms on, ``AUTO_SAMPLER_COMPILED`` for the device while
    ``torch.compile`` traces, else ``AUTO_SAMPLER``."""
    if sampler != 'auto':
        return sampler
    if torch.onnx.is_in_onnx_export() or \
            torch.are_deterministic_algorithms_enabled():
        return 'pytorch'
    if torch.compiler.is_compiling():
        cuda = torch.device(device).type == 'cuda'
        return AUTO_SAMPLER_COMPILED['cuda' if cuda else 'cpu']
    return AUTO_SAMPLER


def _unfold(input, offset, kernel_size, stride, padding, dilation, sampler):
    """:func:`deform_unfold` with a checked ``sampler``: ``'pytorch'``, or
    ``'grid_sample'`` for every other path (``'dcn'`` unfolds its keys with
    it, ``'fused'`` falls back to it on maps under 2x2)."""
    fn = deform_unfold_pytorch if resolve_sampler(
        sampler, input.device) == 'pytorch' else deform_unfold_grid_sample
    return fn(input, offset, kernel_size, stride, padding, dilation)


def deform_unfold(input: torch.Tensor,
                  offset: torch.Tensor,
                  kernel_size=3,
                  stride=1,
                  padding=1,
                  dilation=1,
                  sampler: str = 'auto') -> torch.Tensor:
    """Deformable unfold with the chosen ``sampler`` (see the module doc)."""
    return _unfold(input, offset, kernel_size, stride, padding, dilation,
                   check_sampler(sampler))


class DeformUnfold(nn.Module):
    """Module form of :func:`deform_unfold` (the official ``DeformUnfold``);
    in DGMN2 it also holds the attention's sampler name (which
    ``mogazoo.deployment.export`` switches to ``'pytorch'``).

    Args:
        kernel_size (int | tuple[int, int]): Kernel size. Defaults to 3.
        stride (int | tuple[int, int]): Stride. Defaults to 1.
        padding (int | tuple[int, int]): Zero padding. Defaults to 1.
        dilation (int | tuple[int, int]): Dilation. Defaults to 1.
        sampler (str): One of ``SAMPLERS`` (see the module doc; as an
            unfold ``'dcn'`` and ``'fused'`` are ``'grid_sample'``),
            checked here by :func:`check_sampler`. Defaults to ``'auto'``.
    """

    def __init__(self,
                 kernel_size: Union[int, Tuple[int, int]] = 3,
                 stride: Union[int, Tuple[int, int]] = 1,
                 padding: Union[int, Tuple[int, int]] = 1,
                 dilation: Union[int, Tuple[int, int]] = 1,
                 sampler: str = 'auto'):
        super().__init__()
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.sampler = check_sampler(sampler)

    def forward(self, input: torch.Tensor,
                offset: torch.Tensor) -> torch.Tensor:
        return _unfold(input, offset, self.kernel_size, self.stride,
                       self.padding, self.dilation, self.sampler)

    def extra_repr(self):
        return (f'kernel_size={self.kernel_size}, stride={self.stride}, '
                f'padding={self.padding}, dilation={self.dilation}, '
                f'sampler={self.sampler!r}')
