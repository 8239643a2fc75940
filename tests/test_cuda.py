"""CUDA paths: DGMN2's samplers on the GPU (the DCN aggregation on mmcv's
compiled CUDA kernels, grid_sample, the fused attention), and every family
on CUDA in fp32 and under AMP.

CI machines have no GPU, so these tests skip there; they run on a GPU machine
with mmcv built with its CUDA ops (``FORCE_CUDA=1 MMCV_WITH_OPS=1``).
"""
import pytest
import torch
from mmpretrain.models import build_classifier

from mogazoo.models.utils import deform_unfold as du
from mogazoo.models.utils.deform_unfold import (deform_unfold_grid_sample,
                                                deform_unfold_pytorch)

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason='needs a CUDA GPU')
needs_mmcv_cuda = pytest.mark.skipif(
    not (HAS_CUDA and du.mmcv_available('cuda')),
    reason='needs a CUDA GPU and mmcv built with its CUDA ops')


@pytest.fixture(autouse=True)
def no_tf32():
    """fp32 means fp32: TF32 matmuls would cost ~1e-3 relative error."""
    if not HAS_CUDA:
        yield
        return
    old = (torch.backends.cuda.matmul.allow_tf32,
           torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    (torch.backends.cuda.matmul.allow_tf32,
     torch.backends.cudnn.allow_tf32) = old


def far_offsets(n, h, w, scale=4., seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 18, h, w, generator=g, dtype=dtype) * scale


def values_and_grads(fn, x, offset, grad):
    xi = x.clone().requires_grad_()
    oi = offset.clone().requires_grad_()
    out = fn(xi, oi)
    gx, go = torch.autograd.grad((out * grad).sum(), [xi, oi])
    return out, gx, go


def aggregate_inputs(dtype=torch.float64, seed=0):
    """value, offset, weights, proj weight and bias of the DCN aggregation:
    3 heads of 4 channels, offsets of several pixels reaching outside."""
    g = torch.Generator().manual_seed(seed)
    b, heads, d, h, w = 2, 3, 4, 13, 17
    return [
        torch.randn(b, heads * d, h, w, generator=g, dtype=dtype),
        torch.randn(b, heads, 9, 2, h, w, generator=g, dtype=dtype) * 4,
        torch.rand(b, heads, 9, h, w, generator=g, dtype=dtype),
        torch.randn(6, heads * d, generator=g, dtype=dtype),
        torch.randn(6, generator=g, dtype=dtype)
    ]


def aggregate_reference(value, offset, weights, proj_weight, proj_bias):
    """Unfold each head's values at its offsets (the gather path), weight
    the 9 samples, project."""
    b, c, h, w = value.shape
    heads = offset.shape[1]
    v = deform_unfold_pytorch(
        value.reshape(b * heads, c // heads, h, w),
        offset.reshape(b * heads, 18, h, w)).view(b, heads, c // heads, 9,
                                                  h * w)
    out = torch.einsum('bhdsn,bhsn->bhdn', v,
                       weights.reshape(b, heads, 9, h * w))
    out = torch.nn.functional.linear(
        out.reshape(b, c, h * w).transpose(1, 2), proj_weight, proj_bias)
    return out.transpose(1, 2).reshape(b, -1, h, w)


@needs_mmcv_cuda
@pytest.mark.parametrize('dtype,tol', [(torch.float32, 1e-5),
                                       (torch.float64, 1e-10)])
def test_dcn_aggregate_cuda_matches_the_reference(dtype, tol):
    """sampler='dcn' on mmcv's CUDA kernels (deform_aggregate) against the
    gather path in float64 on the CPU (itself checked against a
    transcription of DGMN2's CUDA kernel in test_deform_unfold.py), values
    and the gradients of all five inputs."""
    inputs = aggregate_inputs()
    ref_in = [t.clone().requires_grad_() for t in inputs]
    got_in = [t.cuda().to(dtype).requires_grad_() for t in inputs]
    ref = aggregate_reference(*ref_in)
    got = du.deform_aggregate(*got_in)
    assert got.device.type == 'cuda' and got.dtype == dtype
    grad = torch.randn(ref.shape, dtype=torch.float64)
    ref.backward(grad)
    got.backward(grad.cuda().to(dtype))
    scale = ref.abs().max().item()
    torch.testing.assert_close(
        got.detach().cpu().double(), ref.detach(), rtol=0, atol=tol * scale)
    names = ('value', 'offset', 'weights', 'proj weight', 'proj bias')
    for name, a, b in zip(names, got_in, ref_in):
        torch.testing.assert_close(
            a.grad.cpu().double(),
            b.grad,
            rtol=0,
            atol=tol * b.grad.abs().max().item() * 10,
            msg=lambda m: f'grad {name}: {m}')


@needs_mmcv_cuda
def test_dcn_aggregate_cuda_half():
    """float16 (what AMP feeds the sampler) stays float16 on the GPU and
    is close to the float32 result."""
    inputs = [t.float().cuda() for t in aggregate_inputs(seed=2)]
    ref = du.deform_aggregate(*inputs)
    out = du.deform_aggregate(*[t.half() for t in inputs])
    assert out.dtype == torch.float16
    torch.testing.assert_close(
        out.float(), ref, rtol=0, atol=2e-2 * ref.abs().max().item())


@needs_cuda
def test_grid_sample_path_on_cuda():
    """F.grid_sample's CUDA kernels against the gather path in float64 on
    the CPU (values and gradients), and float16 input staying float16."""
    torch.manual_seed(3)
    x = torch.randn(2, 16, 13, 17, dtype=torch.float64)
    offset = far_offsets(2, 13, 17, dtype=torch.float64)
    grad = torch.randn(2, 16 * 9, 13 * 17, dtype=torch.float64)
    ref = values_and_grads(deform_unfold_pytorch, x, offset, grad)
    got = values_and_grads(deform_unfold_grid_sample,
                           x.cuda().float(),
                           offset.cuda().float(),
                           grad.cuda().float())
    for name, a, b, tol in zip(('values', 'grad input', 'grad offset'), got,
                               ref, (2e-5, 2e-5, 2e-4)):
        assert a.device.type == 'cuda' and a.dtype == torch.float32, name
        torch.testing.assert_close(
            a.cpu().double(),
            b,
            rtol=0,
            atol=tol,
            msg=lambda m: f'{name}: {m}')
    out = deform_unfold_grid_sample(x.cuda().half(), offset.cuda().half())
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.cpu().double(), ref[0], rtol=0, atol=2e-2)
    with torch.autocast('cuda', dtype=torch.float16):
        out = du.deform_unfold(
            x.cuda().half(), offset.cuda().float(), sampler='grid_sample')
    assert out.dtype == torch.float16 and torch.isfinite(out).all()


def build(family, **backbone):
    if family == 'moganet':
        backbone = dict(type='MogaNet', arch='xtiny', **backbone)
        width = 192
    elif family == 'fastervit':
        backbone = dict(type='FasterViT', arch='0', **backbone)
        width = 512
    else:
        backbone = dict(type='DGMN2', arch='tiny', **backbone)
        width = 512
    torch.manual_seed(0)
    return build_classifier(
        dict(
            type='ImageClassifier',
            backbone=backbone,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=10,
                in_channels=width,
                loss=dict(type='CrossEntropyLoss'))))


def rel_err(a, b):
    return ((a.float().cpu() - b.float().cpu()).abs().max() /
            b.float().cpu().abs().max()).item()


FAMILIES = ['moganet', 'fastervit', 'dgmn2']


@needs_cuda
@pytest.mark.parametrize('family', FAMILIES)
def test_cuda_fp32_equals_cpu(family):
    model = build(family).eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        cpu = model(x, mode='tensor')
        gpu = model.cuda()(x.cuda(), mode='tensor')
    assert rel_err(gpu, cpu) <= 1e-4, rel_err(gpu, cpu)


@needs_cuda
@pytest.mark.parametrize('sampler', ['dcn', 'grid_sample', 'fused'])
def test_dgmn2_samplers_agree_on_cuda(sampler):
    """The whole DGMN2-T classifier with the DCN attention on mmcv's CUDA
    kernels (or the grid_sample sampler, or the fused attention) and with
    the gather sampler, on the same weights."""
    if sampler == 'dcn' and not du.mmcv_available('cuda'):
        pytest.skip('needs mmcv built with its CUDA ops')
    a = build('dgmn2', sampler=sampler).cuda().eval()
    b = build('dgmn2', sampler='pytorch').cuda().eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 256, 320, device='cuda')
    with torch.no_grad():
        assert rel_err(a(x, mode='tensor'), b(x, mode='tensor')) <= 1e-4


@needs_cuda
@pytest.mark.parametrize('family', FAMILIES)
def test_amp_training_steps_lower_the_loss(family):
    """fp16 autocast with a gradient scaler: finite logits close to fp32,
    and 8 AdamW steps on one fixed batch lower its loss."""
    from mmpretrain.structures import DataSample
    model = build(family).cuda()
    torch.manual_seed(0)
    x = torch.randn(8, 3, 224, 224, device='cuda')
    labels = torch.arange(8, device='cuda') % 10
    samples = [DataSample().set_gt_label(int(i)).to('cuda') for i in labels]
    model.eval()
    with torch.no_grad():
        ref = model(x, mode='tensor')
        with torch.autocast('cuda', dtype=torch.float16):
            half = model(x, mode='tensor')
    assert torch.isfinite(half).all()
    assert rel_err(half, ref) <= 5e-2, rel_err(half, ref)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler('cuda')
    losses = []
    for _ in range(8):
        with torch.autocast('cuda', dtype=torch.float16):
            loss = model(x, samples, mode='loss')['loss']
        losses.append(loss.item())
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    assert all(map(lambda v: v == v, losses)), losses  # no NaN
    assert losses[-1] < 0.5 * losses[0], losses
