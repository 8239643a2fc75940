import pytest
import torch
from mmpretrain.models import build_classifier

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
    return build_classifier(
        dict(
            type='ImageClassifier',
            backbone=dict(type='MogaNet', arch=arch, **kwargs),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead', num_classes=1000, in_channels=dims[-1])))


@pytest.mark.parametrize('arch,params,dims', OFFICIAL)
def test_params_match_official(arch, params, dims):
    model = classifier(arch, dims)
    n = sum(p.numel() for p in model.parameters()) / 1e6
    # the official counts are given to 2 decimals (xtiny: 3 decimals)
    assert abs(n - params) < (0.0005 if arch == 'xtiny' else 0.005), n


@pytest.mark.parametrize('arch,_,dims', OFFICIAL[:3])
def test_stage_outputs(arch, _, dims):
    model = MogaNet(arch, out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 96, 128))
    assert [tuple(o.shape) for o in outs] == [
        (2, dims[i], 96 // 4 // 2**i, 128 // 4 // 2**i) for i in range(4)
    ]


def test_custom_arch():
    arch = dict(embed_dims=[16, 32], depths=[1, 2], ffn_ratios=[2, 2])
    model = MogaNet(arch, out_indices=(0, 1)).eval()
    outs = model(torch.randn(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [16, 32]
    assert len(model.stages[1]) == 2


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
    from mogazoo.utils import load_config
    from mogazoo.utils.flops import count_flops as count
    _, flops = count(
        load_config(f'{root}/configs/moganet/{config}'), (224, 224))
    # fvcore-style counting (multiply-adds of convs and linears, norms and
    # pools) gives the same number on the official model; the published
    # table rounds it up by at most 2 %
    assert flops / 1e9 == pytest.approx(published, rel=0.02)
