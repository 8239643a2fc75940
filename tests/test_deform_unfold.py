"""The deformable sampling of DGMN2: the PyTorch and grid_sample unfolds,
the fused path's pixel cells and the DCN aggregation against the official
CUDA kernel's semantics, and how a sampler name is checked and resolved."""
import math

import pytest
import torch
import torch.nn.functional as F

from mogazoo.models.utils import deform_unfold as du
from mogazoo.models.utils.deform_unfold import (DeformUnfold, deform_unfold,
                                                deform_unfold_grid_sample,
                                                deform_unfold_pytorch)

needs_mmcv = pytest.mark.skipif(
    not du.mmcv_available('cpu'), reason='mmcv compiled ops missing')


def kernel_transcription(x, offset, k=3, pad=1):
    """Scalar transcription of DGMN2's ``deformable_im2col_gpu_kernel`` and
    ``deformable_im2col_bilinear`` (stride 1, dilation 1), laid out as
    ``deform_unfold_forward_cuda`` returns it; written independently of the
    module under test."""
    n, c, h, w = x.shape
    ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    out = torch.zeros(n, c * k * k, ho * wo, dtype=torch.float64)
    img_all, off = x.double().tolist(), offset.double().tolist()
    for b in range(n):
        for ch in range(c):
            img = img_all[b][ch]
            for hc in range(ho):
                for wc in range(wo):
                    for i in range(k):
                        for j in range(k):
                            p = 2 * (i * k + j)
                            him = hc - pad + i + off[b][p][hc][wc]
                            wim = wc - pad + j + off[b][p + 1][hc][wc]
                            val = 0.
                            if -1 < him < h and -1 < wim < w:
                                hl, wl = math.floor(him), math.floor(wim)
                                lh, lw = him - hl, wim - wl
                                for dy, dx, wt in ((0, 0, (1 - lh) * (1 - lw)),
                                                   (0, 1, (1 - lh) * lw),
                                                   (1, 0, lh * (1 - lw)),
                                                   (1, 1, lh * lw)):
                                    yy, xx = hl + dy, wl + dx
                                    if 0 <= yy < h and 0 <= xx < w:
                                        val += wt * img[yy][xx]
                            out[b, ch * k * k + i * k + j, hc * wo + wc] = val
    return out


def far_offsets(n, h, w, scale=4., seed=0, dtype=torch.float32):
    """Offsets of several pixels: many samples fall partly or wholly outside
    the image."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 18, h, w, generator=g, dtype=dtype) * scale


# every path, with the float32 tolerance of its positions: grid_sample gets
# them as normalised coordinates, rounded once more
PATHS = [
    pytest.param(deform_unfold_pytorch, 0, id='pytorch'),
    pytest.param(deform_unfold_grid_sample, 1e-6, id='grid_sample')
]


@pytest.mark.parametrize('fn,tol', PATHS)
def test_zero_offsets_is_f_unfold(fn, tol):
    x = torch.randn(2, 5, 6, 7)
    for stride, padding, dilation in ((1, 1, 1), (2, 1, 1), (1, 2, 2)):
        ref = F.unfold(x, 3, dilation=dilation, padding=padding, stride=stride)
        ho = (6 + 2 * padding - 2 * dilation - 1) // stride + 1
        wo = (7 + 2 * padding - 2 * dilation - 1) // stride + 1
        out = fn(x, torch.zeros(2, 18, ho, wo), 3, stride, padding, dilation)
        torch.testing.assert_close(out, ref, rtol=0, atol=tol * 4)


@pytest.mark.parametrize('fn,tol', PATHS)
def test_matches_the_cuda_kernel_semantics(fn, tol):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    offset = far_offsets(2, 5, 6, dtype=torch.float64)
    # samples exactly on the -1 border and on integer positions
    offset[0, :, 0, 0] = torch.tensor([-1., 0.] * 9, dtype=torch.float64)
    offset[1, :, 2, 3] = torch.tensor([2., -3.] * 9, dtype=torch.float64)
    out = fn(x, offset)
    torch.testing.assert_close(
        out, kernel_transcription(x, offset), rtol=0, atol=1e-12)


@pytest.mark.parametrize('fn,tol', PATHS)
def test_outside_samples_are_zero(fn, tol):
    x = torch.randn(1, 2, 4, 4) + 10  # no value is near 0
    offset = torch.full((1, 18, 4, 4), 100.)  # every sample far outside
    offset[:, :, 1, 1] = 0.  # position (1, 1): its plain 3x3 neighbourhood
    # position (2, 2) moved two rows up: its top row lies exactly on y = -1
    offset[:, 0::2, 2, 2] = -2.
    offset[:, 1::2, 2, 2] = 0.
    out = fn(x, offset)
    zero = [i for i in range(16) if i not in (5, 10)]
    assert (out[..., zero] == 0).all()
    assert (out[:, [0, 1, 2, 9, 10, 11], 10] == 0).all()
    plain = F.unfold(x, 3, padding=1)
    torch.testing.assert_close(
        out[..., 5], plain[..., 5], rtol=0, atol=tol * 20)
    torch.testing.assert_close(
        out[..., 10], plain[..., 2], rtol=0, atol=tol * 20)


@pytest.mark.parametrize(
    'fn,f32_tol',
    [pytest.param(deform_unfold_grid_sample, 2e-5, id='grid_sample')])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_paths_agree_with_gather_in_values_and_gradients(fn, f32_tol, dtype):
    torch.manual_seed(0)
    x = torch.randn(3, 8, 9, 11, dtype=dtype)
    offset = far_offsets(3, 9, 11, dtype=dtype)
    assert ((offset.abs() > 3).float().mean() > 0.3)  # reaches outside
    grad = torch.randn(3, 8 * 9, 9 * 11, dtype=dtype)
    results = []
    for path in (fn, deform_unfold_pytorch):
        xi = x.clone().requires_grad_()
        oi = offset.clone().requires_grad_()
        out = path(xi, oi)
        gx, go = torch.autograd.grad((out * grad).sum(), [xi, oi])
        results.append((out, gx, go))
    (a, gxa, goa), (b, gxb, gob) = results
    tol = f32_tol if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(a, b, rtol=0, atol=tol)
    torch.testing.assert_close(gxa, gxb, rtol=0, atol=tol)
    torch.testing.assert_close(goa, gob, rtol=0, atol=10 * tol)
    assert goa.abs().max() > 1 and gxa.abs().max() > 1  # not trivially 0


@pytest.mark.parametrize('fn',
                         [deform_unfold_pytorch, deform_unfold_grid_sample])
def test_autograd_paths_gradcheck(fn):
    torch.manual_seed(0)
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    # keep samples away from integer positions and the -1/H borders, where
    # bilinear interpolation is not differentiable
    offset = torch.randint(-4, 4, (1, 18, 4, 5)).double() + 0.25 + \
        torch.rand(1, 18, 4, 5, dtype=torch.float64) * 0.5
    offset.requires_grad_()
    assert torch.autograd.gradcheck(fn, (x, offset))


@pytest.mark.parametrize('sampler', ['grid_sample'])
def test_low_precision_on_cpu(sampler):
    x = torch.randn(1, 4, 5, 5)
    offset = far_offsets(1, 5, 5)
    ref = deform_unfold_pytorch(x, offset)
    for dtype in (torch.bfloat16, torch.float16):
        out = deform_unfold(x.to(dtype), offset.to(dtype), sampler=sampler)
        assert out.dtype == dtype
        torch.testing.assert_close(out.float(), ref, rtol=0.02, atol=0.05)


def test_auto_sampler_takes_the_measured_path(monkeypatch):
    calls = []
    for name in ('pytorch', 'grid_sample'):
        monkeypatch.setattr(
            du,
            f'deform_unfold_{name}',
            lambda *a, name=name: calls.append(name) or 0)
    x, offset = torch.randn(1, 2, 3, 3), torch.zeros(1, 18, 3, 3)
    deform_unfold(x, offset, sampler='auto')
    assert du.resolve_sampler('auto', 'cpu') == du.AUTO_SAMPLER
    assert calls == [du.AUTO_SAMPLER] == ['grid_sample']
    # without mmcv's compiled ops (mmcv-lite) 'auto' is the same and 'dcn'
    # is refused by name
    monkeypatch.setattr(du, '_mmcv_deform_conv', lambda: None)
    assert not du.mmcv_available('cpu')
    assert du.resolve_sampler('auto', 'cpu') == du.AUTO_SAMPLER
    with pytest.raises(RuntimeError, match="sampler='dcn'"):
        DeformUnfold(sampler='dcn')


def test_auto_sampler_under_compile(monkeypatch):
    """While torch.compile traces, 'auto' takes AUTO_SAMPLER_COMPILED for
    the device (the fused attention on the CPU); a named sampler stays
    itself, and eagerly AUTO_SAMPLER applies."""
    eager = du.resolve_sampler('auto', 'cpu')
    monkeypatch.setattr(torch.compiler, 'is_compiling', lambda: True)
    assert du.resolve_sampler('auto', 'cpu') == \
        du.AUTO_SAMPLER_COMPILED['cpu'] == 'fused'
    assert du.resolve_sampler('auto', 'meta') == 'fused'
    assert du.resolve_sampler('auto', 'cuda') == \
        du.AUTO_SAMPLER_COMPILED['cuda']
    assert du.resolve_sampler('grid_sample', 'cpu') == 'grid_sample'
    monkeypatch.setattr(torch.compiler, 'is_compiling', lambda: False)
    assert du.resolve_sampler('auto', 'cpu') == eager != 'fused'


@pytest.mark.parametrize('hw', [(2, 2), (3, 5), (6, 4)])
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
def test_bilinear_cells_sample_like_the_kernel(hw, dtype):
    """The four in-map pixels and weights of bilinear_cells reproduce the
    kernel transcription's samples, for offsets reaching well outside the
    map (rows and columns -1 and H, W included) and on pixel lines."""
    h, w = hw
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, h, w, generator=g, dtype=torch.float64)
    offset = torch.randn(2, 18, h, w, generator=g, dtype=torch.float64) * 3
    offset[:, :, 0, 0] = torch.arange(18.) % 4 - 2  # integer positions
    ref = kernel_transcription(x, offset).view(2, 3, 9, h * w)
    cell, weights = du.bilinear_cells(
        offset.to(dtype).view(2, 9, 2, h * w).permute(0, 3, 1, 2)[:, :, None],
        h, w)
    assert cell.dtype == torch.int64 and weights.dtype == dtype
    assert cell.min() >= 0 and cell.max() + w + 1 < 2 * h * w
    table = x.to(dtype).permute(0, 2, 3, 1).reshape(2 * h * w, 3)
    out = sum(weights[..., i, None] * table[cell + step]
              for i, step in enumerate((0, 1, w, w + 1)))  # (B, N, 1, 9, C)
    out = out[:, :, 0].permute(0, 3, 2, 1).double()
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(out, ref, rtol=tol, atol=tol)


def test_bilinear_cells_reject_bad_shapes():
    with pytest.raises(ValueError, match='at least 2x2'):
        du.bilinear_cells(torch.zeros(1, 3, 1, 9, 2), 1, 3)
    with pytest.raises(ValueError, match='offset must have shape'):
        du.bilinear_cells(torch.zeros(1, 6, 1, 18), 2, 3)


def test_auto_sampler_is_pytorch_when_deterministic():
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        assert du.resolve_sampler('auto', 'cpu') == 'pytorch'
        assert du.resolve_sampler('grid_sample', 'cpu') == 'grid_sample'
    finally:
        torch.use_deterministic_algorithms(was)


def aggregate_reference(value, offset, weights, proj_weight, proj_bias):
    """The DGMN2 value aggregation written out: unfold each head's values
    at its offsets (the PyTorch sampler), weight the 9 samples, project."""
    b, c, h, w = value.shape
    heads = offset.shape[1]
    d = c // heads
    v = deform_unfold_pytorch(
        value.reshape(b * heads, d, h, w),
        offset.reshape(b * heads, 18, h, w)).view(b, heads, d, 9, h * w)
    out = torch.einsum('bhdsn,bhsn->bhdn', v,
                       weights.reshape(b, heads, 9, h * w))
    out = F.linear(
        out.reshape(b, c, h * w).transpose(1, 2), proj_weight, proj_bias)
    return out.transpose(1, 2).reshape(b, -1, h, w)


@needs_mmcv
@pytest.mark.parametrize('contiguous', [True, False])
def test_deform_aggregate_is_the_attention_aggregation(contiguous):
    """One mmcv DCNv2 call (deform_groups = heads, the attention weights as
    the mask, the projection tied across the kernel points) equals
    unfold + weighted sum + projection in values and in the gradients of
    all five inputs, also for non-contiguous views (mmcv's CPU op reads
    those wrongly unless they are made contiguous)."""
    g = torch.Generator().manual_seed(0)
    b, heads, d, h, w = 2, 3, 4, 7, 9
    c = heads * d
    value = torch.randn(b, h, w, c, generator=g).permute(0, 3, 1, 2)
    if contiguous:
        value = value.contiguous()
    offset = torch.randn(b, heads, 9, 2, h, w, generator=g) * 3
    weights = torch.rand(b, heads, h, w, 9, generator=g).softmax(-1)
    weights = weights.permute(0, 1, 4, 2, 3)
    if contiguous:
        weights = weights.contiguous()
    else:  # a transposed view of the offsets too
        offset = offset.transpose(4, 5).contiguous().transpose(4, 5)
    proj_weight = torch.randn(5, c, generator=g)
    proj_bias = torch.randn(5, generator=g)
    inputs = [value, offset, weights, proj_weight, proj_bias]
    assert contiguous == all(t.is_contiguous() for t in inputs)
    a = [t.detach().clone().requires_grad_() for t in inputs]
    r = [t.detach().clone().requires_grad_() for t in inputs]
    out = du.deform_aggregate(*a)
    ref = aggregate_reference(*r)
    assert out.shape == (b, 5, h, w)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    grad = torch.randn(out.shape, generator=g)
    out.backward(grad)
    ref.backward(grad)
    for x, y in zip(a, r):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-4, atol=1e-4)


@needs_mmcv
def test_deform_aggregate_checks_shapes():
    value = torch.randn(1, 6, 4, 4)
    with pytest.raises(ValueError, match='do not match'):
        du.deform_aggregate(value, torch.zeros(1, 2, 9, 2, 4, 5),
                            torch.zeros(1, 2, 9, 4, 4), torch.zeros(6, 6))


def test_sampler_is_selected_by_name(monkeypatch):
    calls = []
    for name in ('pytorch', 'grid_sample'):
        monkeypatch.setattr(
            du,
            f'deform_unfold_{name}',
            lambda *a, name=name: calls.append(name) or 0)
    x, offset = torch.randn(1, 2, 3, 3), torch.zeros(1, 18, 3, 3)
    for name in ('grid_sample', 'pytorch'):
        DeformUnfold(sampler=name)(x, offset)
    assert calls == ['grid_sample', 'pytorch']
    # as an unfold, the attention paths are grid_sample: the keys of 'dcn',
    # the fallback of 'fused' on maps under 2x2
    DeformUnfold(sampler='fused')(x, offset)
    assert calls[-1] == 'grid_sample'
    if du.mmcv_available('cpu'):
        DeformUnfold(sampler='dcn')(x, offset)
        assert calls[-1] == 'grid_sample'


def test_auto_sampler_uses_pytorch_in_onnx_export(monkeypatch):
    calls = []
    monkeypatch.setattr(du, 'deform_unfold_pytorch',
                        lambda *a: calls.append('pytorch') or 0)
    monkeypatch.setattr(du, 'deform_unfold_grid_sample',
                        lambda *a: calls.append('grid_sample') or 0)
    monkeypatch.setattr(torch.onnx, 'is_in_onnx_export', lambda: True)
    deform_unfold(torch.randn(1, 2, 3, 3), torch.zeros(1, 18, 3, 3))
    assert calls == ['pytorch']


def test_bad_arguments_are_named():
    x = torch.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match='offset must have shape'):
        deform_unfold_pytorch(x, torch.zeros(1, 9, 4, 4))
    with pytest.raises(ValueError, match='4-D'):
        deform_unfold_pytorch(x[0], torch.zeros(1, 18, 4, 4))
    with pytest.raises(ValueError, match='offset must have shape'):
        deform_unfold_grid_sample(x, torch.zeros(1, 18, 3, 4))
    with pytest.raises(ValueError, match='too small'):
        deform_unfold_grid_sample(x[..., :1], torch.zeros(1, 18, 4, 1), 3, 1,
                                  0)
    with pytest.raises(ValueError, match='sampler'):
        deform_unfold(x, torch.zeros(1, 18, 4, 4), sampler='cuda')
    with pytest.raises(ValueError, match='sampler'):
        DeformUnfold(sampler='triton')
    # a removed name is refused with the valid ones listed
    with pytest.raises(ValueError) as err:
        DeformUnfold(sampler='mmcv')
    assert all(repr(name) in str(err.value) for name in du.SAMPLERS)
    assert 'pytorch' in repr(DeformUnfold(sampler='pytorch'))
