import pytest
import torch
from mmpretrain.models import build_classifier
from torch.nn.modules.batchnorm import _BatchNorm

import mogazoo  # noqa: F401
from mogazoo.models import MogaNet

# (arch, params of the official model with its 1000-class head, dims)
OFFICIAL = [
    ('xtiny', 2.956, [32, 64, 96, 192]),
    ('tiny', 5.20, [32, 64, 128, 256]),
    ('small', 25.34, [64, 128, 320, 512]),
    ('base', 43.72, [64, 160, 320, 512]),
    ('large', 82.48, [64, 160, 320, 640]),
    ('xlarge', 180.99, [96, 192, 480, 960]),
]


def classifier(arch, dims, **kwargs):
    return build_classifier(dict(
        type='ImageClassifier',
        backbone=dict(type='MogaNet', arch=arch, **kwargs),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000,
                  in_channels=dims[-1])))


@pytest.mark.parametrize('arch,params,dims', OFFICIAL)
def test_params_match_official(arch, params, dims):
    model = classifier(arch, dims)
    n = sum(p.numel() for p in model.parameters()) / 1e6
    # the official counts are given to 2 decimals (xtiny: 3 decimals)
    assert abs(n - params) < (0.0005 if arch == 'xtiny' else 0.005), n


@pytest.mark.parametrize('alias,arch', [('xt', 'xtiny'), ('t', 'tiny'),
                                        ('s', 'small'), ('b', 'base'),
                                        ('l', 'large'), ('xl', 'xlarge')])
def test_aliases(alias, arch):
    assert MogaNet.arch_zoo[alias] == MogaNet.arch_zoo[arch]


@pytest.mark.parametrize('arch,_,dims', OFFICIAL[:3])
def test_stage_outputs(arch, _, dims):
    model = MogaNet(arch, out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 96, 128))
    assert [tuple(o.shape) for o in outs] == [
        (2, dims[i], 96 // 4 // 2**i, 128 // 4 // 2**i) for i in range(4)]


def test_odd_input_size():
    # stride-2 3x3 convs with padding 1 round up: 65 -> 17 -> 9 -> 5 -> 3
    outs = MogaNet('xtiny', out_indices=(0, 3)).eval()(
        torch.randn(1, 3, 65, 65))
    assert outs[0].shape[-2:] == (17, 17) and outs[1].shape[-2:] == (3, 3)


def test_out_indices_negative_and_errors():
    assert MogaNet('xtiny', out_indices=-1).out_indices == (3, )
    assert MogaNet('xtiny', out_indices=[-2, 0]).out_indices == (0, 2)
    with pytest.raises(ValueError, match='out_indices 4'):
        MogaNet('xtiny', out_indices=(4, ))


def test_unknown_arch_is_named():
    with pytest.raises(KeyError, match='huge'):
        MogaNet('huge')
    with pytest.raises(KeyError, match='ffn_ratios'):
        MogaNet(dict(embed_dims=[8, 16], depths=[1, 1]))


def test_custom_arch():
    arch = dict(embed_dims=[16, 32], depths=[1, 2], ffn_ratios=[2, 2])
    model = MogaNet(arch, out_indices=(0, 1)).eval()
    outs = model(torch.randn(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [16, 32]
    assert len(model.stages[1]) == 2


def test_frozen_stages():
    model = MogaNet('xtiny', frozen_stages=1)
    model.train()
    for i in range(4):
        frozen = i <= 1
        for m in (model.patch_embeds[i], model.stages[i], model.norms[i]):
            assert all(p.requires_grad != frozen for p in m.parameters())
            assert all(mod.training != frozen for mod in m.modules())
    # frozen BN statistics do not move in training mode
    before = model.norms[0].running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(before, model.norms[0].running_mean)
    assert not torch.equal(model.norms[2].running_var,
                           torch.ones_like(model.norms[2].running_var))
    with pytest.raises(ValueError, match='frozen_stages'):
        MogaNet('xtiny', frozen_stages=4)


def test_norm_eval():
    model = MogaNet('xtiny', norm_eval=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(m.training for m in bns)
    assert model.stages[0][0].attn.training  # other modules still train
    stats = model.norms[3].running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(stats, model.norms[3].running_mean)


def test_with_cp_same_values_and_grads():
    torch.manual_seed(0)
    a = MogaNet('xtiny', out_indices=(1, 3))
    b = MogaNet('xtiny', out_indices=(1, 3), with_cp=True)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    ya = sum(o.sum() for o in a(x))
    yb = sum(o.sum() for o in b(x))
    ga = torch.autograd.grad(ya, list(a.parameters()))
    gb = torch.autograd.grad(yb, list(b.parameters()))
    torch.testing.assert_close(ya, yb)
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v)


def test_drop_path_is_stochastic_in_training_only():
    model = MogaNet('xtiny', drop_path_rate=0.5)
    dpr = [blk.drop_path.drop_prob for s in model.stages for blk in s
           if hasattr(blk.drop_path, 'drop_prob')]
    assert dpr[-1] == pytest.approx(0.5) and dpr == sorted(dpr)
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    torch.testing.assert_close(model(x)[0], model(x)[0])
    model.train()
    for m in model.modules():  # freeze BN stats to isolate drop path
        if isinstance(m, _BatchNorm):
            m.eval()
    assert not torch.allclose(model(x)[0], model(x)[0])


def test_official_init_and_gradients_flow():
    torch.manual_seed(0)
    model = MogaNet('xtiny')
    model.init_weights()
    dw = model.stages[0][0].attn.value.dw_conv0  # 5x5 depth-wise, 1 group/ch
    assert dw.weight.std().item() == pytest.approx((2 / 25)**0.5, rel=0.15)
    out = model(torch.randn(2, 3, 32, 32))[0]
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_pretrained_init_cfg(tmp_path):
    src = MogaNet('xtiny')
    ckpt = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in src.state_dict().items()}}, ckpt)
    dst = MogaNet('xtiny', init_cfg=dict(type='Pretrained', checkpoint=str(
        ckpt), prefix='backbone.'))
    dst.init_weights()
    for k, v in src.state_dict().items():
        torch.testing.assert_close(dst.state_dict()[k], v)


def test_layer_depth_for_layer_decay():
    model = MogaNet('xtiny')
    n = sum(model.depths) + 2
    assert model.get_layer_depth('backbone.patch_embeds.0.0.weight',
                                 'backbone.') == (0, n)
    assert model.get_layer_depth('backbone.stages.1.0.norm1.weight',
                                 'backbone.') == (model.depths[0] + 1, n)
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == (n - 1, n)


def test_force_fp32_gating_changes_function_like_official():
    torch.manual_seed(0)
    a = MogaNet('xtiny', init_value=1.).eval()
    b = MogaNet('xtiny', init_value=1., attn_force_fp32=True).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 32, 32)
    # the official fp32 path applies the gate activation twice
    assert not torch.allclose(a(x)[0], b(x)[0])


@pytest.mark.parametrize('config,published', [
    ('moganet-xtiny_8xb128_in1k.py', 0.80),
    ('moganet-tiny_8xb128_in1k.py', 1.10),
    ('moganet-small_8xb128_in1k.py', 4.97),
])
def test_flops_match_published(config, published, root):
    from tools.analysis_tools.get_flops import count
    from mogazoo.utils import load_config
    _, flops = count(load_config(f'{root}/configs/moganet/{config}'),
                     (224, 224))
    # fvcore-style counting (multiply-adds of convs and linears, norms and
    # pools) gives the same number on the official model; the published
    # table rounds it up by at most 2 %
    assert flops / 1e9 == pytest.approx(published, rel=0.02)
