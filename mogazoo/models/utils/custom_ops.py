"""PyTorch custom operators that ``torch.compile`` keeps whole: mmcv's
modulated deformable convolution and ``F.grid_sample``.

``mmcv.ops.modulated_deform_conv2d`` is an autograd ``Function`` around
pybind11 calls that ``torch.compile`` cannot trace: every call breaks the
graph (29 breaks in DGMN2-T). Registered here through ``torch.library``
with a fake (meta) implementation and an autograd formula, the same kernels
(``modulated_deform_conv_forward`` / ``_backward`` of mmcv's compiled
extension, CPU and CUDA) become one opaque node of the graph, so a model
using them compiles whole (``fullgraph=True``).

The values and gradients are mmcv's exactly: the functions below call the
extension as ``ModulatedDeformConv2dFunction`` does, with fresh scratch
buffers.
"""
import functools
from typing import List, Optional

import torch
from torch import Tensor


@functools.lru_cache(maxsize=None)
def _ext():
    """mmcv's compiled extension module, or None (mmcv-lite, failed
    build)."""
    try:  # lazy: mmcv's compiled ops are optional (mmcv-lite, no build)
        from mmcv.ops.modulated_deform_conv import ext_module
        ext_module.modulated_deform_conv_forward  # noqa: B018
    except (ImportError, OSError, AttributeError):  # pragma: no cover
        return None
    return ext_module


def _out_size(input, weight, stride, padding, dilation):
    size = [input.shape[0], weight.shape[0]]
    for d in range(2):
        kernel = dilation[d] * (weight.shape[d + 2] - 1) + 1
        size.append((input.shape[d + 2] + 2 * padding[d] - kernel) //
                    stride[d] + 1)
    return size


def _kw(weight, stride, padding, dilation, groups, deform_groups, with_bias):
    return dict(
        kernel_h=weight.shape[2],
        kernel_w=weight.shape[3],
        stride_h=stride[0],
        stride_w=stride[1],
        pad_h=padding[0],
        pad_w=padding[1],
        dilation_h=dilation[0],
        dilation_w=dilation[1],
        group=groups,
        deformable_group=deform_groups,
        with_bias=with_bias)


@torch.library.custom_op('mogazoo::modulated_deform_conv2d', mutates_args=())
def _forward(input: Tensor, offset: Tensor, mask: Tensor, weight: Tensor,
             bias: Optional[Tensor], stride: List[int], padding: List[int],
             dilation: List[int], groups: int, deform_groups: int) -> Tensor:
    # mmcv's kernels index raw memory: contiguous tensors only (a compiled
    # graph may hand over other strides than eager would)
    input, offset, mask, weight = (
        t.contiguous() for t in (input, offset, mask, weight))
    bias = None if bias is None else bias.contiguous()
    output = input.new_empty(
        _out_size(input, weight, stride, padding, dilation))
    with_bias = bias is not None
    _ext().modulated_deform_conv_forward(
        input, weight, bias if with_bias else input.new_empty(0),
        input.new_empty(0), offset, mask, output, input.new_empty(0),
        **_kw(weight, stride, padding, dilation, groups, deform_groups,
              with_bias))
    return output


@_forward.register_fake
def _(input, offset, mask, weight, bias, stride, padding, dilation, groups,
      deform_groups):
    return input.new_empty(_out_size(input, weight, stride, padding, dilation))


@torch.library.custom_op(
    'mogazoo::modulated_deform_conv2d_backward', mutates_args=())
def _backward(grad_output: Tensor, input: Tensor, offset: Tensor, mask: Tensor,
              weight: Tensor, bias: Optional[Tensor], stride: List[int],
              padding: List[int], dilation: List[int], groups: int,
              deform_groups: int) -> List[Tensor]:
    input, offset, mask, weight = (
        t.contiguous() for t in (input, offset, mask, weight))
    with_bias = bias is not None
    bias = bias.contiguous() if with_bias else input.new_empty(0)
    grads = [
        torch.zeros(t.shape, dtype=t.dtype, device=t.device)
        for t in (input, weight, bias, offset, mask)
    ]
    _ext().modulated_deform_conv_backward(
        input, weight, bias, input.new_empty(0), offset, mask,
        input.new_empty(0), *grads, grad_output.contiguous(),
        **_kw(weight, stride, padding, dilation, groups, deform_groups,
              with_bias))
    return grads  # input, weight, bias, offset, mask


@_backward.register_fake
def _(grad_output, input, offset, mask, weight, bias, stride, padding,
      dilation, groups, deform_groups):
    bias = bias if bias is not None else input.new_empty(0)
    return [
        input.new_empty(t.shape) for t in (input, weight, bias, offset, mask)
    ]


def _setup_context(ctx, inputs, output):
    (input, offset, mask, weight, bias, stride, padding, dilation, groups,
     deform_groups) = inputs
    ctx.save_for_backward(input, offset, mask, weight, bias)
    ctx.args = (stride, padding, dilation, groups, deform_groups)


def _grad(ctx, grad_output):
    input, offset, mask, weight, bias = ctx.saved_tensors
    g_input, g_weight, g_bias, g_offset, g_mask = _backward(
        grad_output, input, offset, mask, weight, bias, *ctx.args)
    return (g_input, g_offset, g_mask, g_weight,
            g_bias if bias is not None else None, None, None, None, None, None)


_forward.register_autograd(_grad, setup_context=_setup_context)


def modulated_deform_conv2d(input: Tensor,
                            offset: Tensor,
                            mask: Tensor,
                            weight: Tensor,
                            bias: Optional[Tensor] = None,
                            stride=1,
                            padding=0,
                            dilation=1,
                            groups: int = 1,
                            deform_groups: int = 1) -> Tensor:
    """``mmcv.ops.modulated_deform_conv2d`` (same arguments, values and
    gradients) as a custom operator that ``torch.compile`` keeps in one
    graph. Inputs are made contiguous (mmcv's kernels index raw memory)."""
    pair = torch.nn.modules.utils._pair
    return _forward(input.contiguous(), offset.contiguous(), mask.contiguous(),
                    weight.contiguous(),
                    None if bias is None else bias.contiguous(),
                    list(pair(stride)), list(pair(padding)),
                    list(pair(dilation)), groups, deform_groups)


def available() -> bool:
    """Whether mmcv's compiled extension is there."""
    return _ext() is not None


# ---------------------------------------------------------------------------
# F.grid_sample (bilinear, zeros padding, align_corners=False) as an opaque
# custom operator. Inductor otherwise replaces it by its own decomposition,
# whose generated CPU code corrupted the heap in DGMN2 (torch 2.14: aborts
# such as "malloc(): unaligned tcache chunk detected" or "double free or
# corruption" a few iterations in, at batch 2 and 16); ATen's kernels run
# instead, in eager mode and in compiled graphs alike.
# ---------------------------------------------------------------------------
@torch.library.custom_op(
    'mogazoo::grid_sample_bilinear_zeros', mutates_args=())
def _grid_sample(input: Tensor, grid: Tensor) -> Tensor:
    return torch.ops.aten.grid_sampler_2d(input, grid, 0, 0, False)


@_grid_sample.register_fake
def _(input, grid):
    return input.new_empty(
        (input.shape[0], input.shape[1], grid.shape[1], grid.shape[2]))


@torch.library.custom_op(
    'mogazoo::grid_sample_bilinear_zeros_backward', mutates_args=())
def _grid_sample_backward(grad_output: Tensor, input: Tensor,
                          grid: Tensor) -> List[Tensor]:
    grad_input, grad_grid = torch.ops.aten.grid_sampler_2d_backward(
        grad_output.contiguous(), input, grid, 0, 0, False, [True, True])
    return [grad_input, grad_grid]


@_grid_sample_backward.register_fake
def _(grad_output, input, grid):
    return [input.new_empty(input.shape), grid.new_empty(grid.shape)]


def _gs_setup_context(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _gs_grad(ctx, grad_output):
    input, grid = ctx.saved_tensors
    grad_input, grad_grid = _grid_sample_backward(grad_output, input, grid)
    return grad_input, grad_grid


_grid_sample.register_autograd(_gs_grad, setup_context=_gs_setup_context)


def grid_sample_bilinear_zeros(input: Tensor, grid: Tensor) -> Tensor:
    """``F.grid_sample(input, grid, 'bilinear', 'zeros',
    align_corners=False)`` (4-D, same values and gradients: ATen's kernels)
    as a custom operator that ``torch.compile`` keeps whole instead of
    decomposing it."""
    return _grid_sample(input, grid)
