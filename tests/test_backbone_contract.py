"""The backbone contract, once for every family (:class:`MogazooBackbone`):
arch parsing, ``out_indices``, any input size, ``frozen_stages``,
``norm_eval``, ``with_cp``, stochastic depth (``set_drop_path_rate`` and
:class:`DropPathWarmupHook`), the official init, ``init_cfg`` and
``get_layer_depth``. Family-specific behaviour is tested in the family's
own file."""
from types import SimpleNamespace

import pytest
import torch
from mmpretrain.models import build_classifier
from mmpretrain.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

import mogazoo  # noqa: F401
from mogazoo.engine.hooks import DropPathWarmupHook
from mogazoo.models.backbones import MogazooBackbone

# a small FasterViT: carrier tokens in stages 3 and 4 at small inputs
# (windows of 2), as tests/test_fastervit.py's
FASTERVIT_TINY = dict(
    embed_dims=[16, 32, 64, 128],
    depths=[1, 1, 2, 2],
    num_heads=[2, 2, 4, 4],
    stem_channels=8,
    ct_size=2,
    layer_scale=1e-5,
    propagation=True,
    window_sizes=[7, 7, 2, 2],
    hat=[False, False, True, True])


def _std_check(get, std, rel, zero_bias):
    """Official init: the weight of ``get(model)`` has this std."""

    def check(model):
        layer = get(model)
        assert layer.weight.std().item() == pytest.approx(std, rel=rel)
        if zero_bias:
            assert not layer.bias.any()

    return check


# cfg: the backbone (DGMN2 on its exact gather sampler, 'pytorch'); size:
# input side of the training-mode tests; stage_modules: what stage i freezes;
# block_param: a parameter of block j of stage i;
# num_bns: BatchNorms; cp_size / cp_bn_eval: input of the with_cp test and
# whether its BatchNorms are in eval mode; init_check: a layer after the
# official init
FAMILIES = {
    'MogaNet':
    dict(
        cfg=dict(type='MogaNet', arch='xtiny'),
        size=32,
        stage_modules=lambda m, i:
        [m.patch_embeds[i], m.stages[i], m.norms[i]],
        block_param='stages.{i}.{j}.norm1.weight',
        num_bns=45,
        cp_size=(2, 32),
        cp_bn_eval=False,
        init_check=_std_check(  # 5x5 depth-wise, 1 group/ch
            lambda m: m.stages[0][0].attn.value.dw_conv0, (2 / 25)**0.5, 0.15,
            False)),
    'DGMN2':
    dict(
        cfg=dict(type='DGMN2', arch='tiny', sampler='pytorch'),
        size=32,
        stage_modules=lambda m, i: [m.patch_embeds[i], m.stages[i]],
        block_param='stages.{i}.{j}.norm1.weight',
        num_bns=6,
        cp_size=(2, 32),
        cp_bn_eval=False,
        init_check=_std_check(lambda m: m.stages[2][0].attn.qkv, 0.02, 0.15,
                              True)),
    'FasterViT':
    dict(
        cfg=dict(type='FasterViT', arch=FASTERVIT_TINY, any_res=True),
        size=64,
        stage_modules=lambda m, i:
        [m.patch_embeds[i], m.stages[i], m.norms[str(i)]],
        block_param='stages.{i}.blocks.{j}.norm1.weight',
        num_bns=10,
        cp_size=(1, 128),
        cp_bn_eval=True,
        init_check=_std_check(lambda m: m.stages[2].blocks[0].attn.qkv, 0.02,
                              0.1, True)),
}
ALL = (0, 1, 2, 3)


@pytest.fixture(params=list(FAMILIES))
def family(request):
    return SimpleNamespace(name=request.param, **FAMILIES[request.param])


def build(family, **kwargs):
    return MODELS.build(dict(family.cfg, **kwargs))


def classifier(family, **kwargs):
    backbone = dict(family.cfg, **kwargs)
    dims = build(family).embed_dims
    return build_classifier(
        dict(
            type='ImageClassifier',
            backbone=backbone,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead', num_classes=10, in_channels=dims[-1])))


def bn_eval(model):
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.eval()
    return model


def test_every_family_is_a_mogazoo_backbone():
    for name in FAMILIES:
        assert issubclass(MODELS.get(name), MogazooBackbone)


# ------------------------------------------------------------------ arch
def test_arch_errors_are_named(family):
    cls = MODELS.get(family.name)
    with pytest.raises(KeyError, match='huge') as err:
        cls('huge')
    assert sorted(set(cls.arch_zoo))[0] in str(err.value)  # the choices
    arch = cls.parse_arch(family.cfg['arch'])
    for missing in cls.arch_keys:
        with pytest.raises(KeyError, match=rf"missing \['{missing}'\]"):
            cls({k: v for k, v in arch.items() if k != missing})
    with pytest.raises(KeyError, match='colour'):
        cls(dict(arch, colour=1))
    with pytest.raises(ValueError, match='one value per stage'):
        cls(dict(arch, embed_dims=arch['embed_dims'][:-1]))
    with pytest.raises(TypeError, match='arch'):
        cls(1.5)


def test_arch_names_are_case_insensitive_and_parsed_once(family):
    cls = MODELS.get(family.name)
    name = max(cls.arch_zoo, key=len)
    assert cls.parse_arch(name.upper()) == cls.parse_arch(name)
    parsed = cls.parse_arch(name)
    parsed['depths'].append(1)  # a copy: the table is left alone
    assert cls.parse_arch(name) != parsed


# ----------------------------------------------------------- out_indices
def test_out_indices_negative_and_errors(family):
    assert build(family, out_indices=-1).out_indices == (3, )
    assert build(family, out_indices=[-2, 0]).out_indices == (0, 2)
    assert build(family, out_indices=(1, -1)).out_indices == (1, 3)
    with pytest.raises(ValueError, match='out_indices 4'):
        build(family, out_indices=(4, ))
    with pytest.raises(TypeError, match='out_indices'):
        build(family, out_indices='last')


# the output of stage i after 3x3 stride-2 convs with padding 1 (they round
# up: 65 -> 33 -> 17 -> 9 -> 5 -> 3); (32, 32) gives a 1x1 last stage
SIZES = [(32, 32), (64, 64), (65, 65), (65, 33), (96, 128), (128, 64),
         (65, 97), (224, 160), (224, 224)]


def test_stage_outputs_at_any_size(family):
    torch.manual_seed(0)
    model = build(family, out_indices=ALL).eval()
    for shape in SIZES:
        with torch.no_grad():
            outs = model(torch.randn(1, 3, *shape))
        h, w = shape
        expect = []
        for i in range(4):
            h, w = (h + 1) // 2, (w + 1) // 2
            if i == 0:
                h, w = (h + 1) // 2, (w + 1) // 2
            expect.append((1, model.embed_dims[i], h, w))
        assert [tuple(o.shape) for o in outs] == expect, shape
        assert all(torch.isfinite(o).all() for o in outs), shape


# ---------------------------------------------------- freezing, norm_eval
def test_frozen_stages(family):
    model = build(family, frozen_stages=1, out_indices=ALL)
    model.train()
    size = family.size
    for i in range(4):
        frozen = i <= 1
        modules = model._stage_modules(i)
        assert modules == family.stage_modules(model, i)
        for m in modules:
            assert all(p.requires_grad != frozen for p in m.parameters())
            assert all(mod.training != frozen for mod in m.modules())
    bns = {
        i: [
            m for s in model._stage_modules(i) for m in s.modules()
            if isinstance(m, _BatchNorm)
        ]
        for i in range(4)
    }
    before = {
        id(m): (m.running_mean.clone(), m.running_var.clone())
        for i in range(4)
        for m in bns[i]
    }
    model(torch.randn(2, 3, size, size))
    for i in range(4):
        for m in bns[i]:
            mean, var = before[id(m)]
            kept = torch.equal(mean, m.running_mean) and torch.equal(
                var, m.running_var)
            # frozen BN statistics do not move in training mode
            assert kept == (i <= 1), (i, m)
    with pytest.raises(ValueError, match='frozen_stages'):
        build(family, frozen_stages=4)
    with pytest.raises(ValueError, match='frozen_stages'):
        build(family, frozen_stages=-2)


def test_norm_eval(family):
    model = build(family, norm_eval=True, out_indices=ALL)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert len(bns) == family.num_bns and not any(m.training for m in bns)
    # the other modules still train
    assert all(m.training for m in model.modules()
               if not isinstance(m, _BatchNorm))
    stats = [m.running_mean.clone() for m in bns]
    model(torch.randn(2, 3, family.size, family.size))
    for m, s in zip(bns, stats):
        assert torch.equal(s, m.running_mean)
    model.eval()
    assert not any(m.training for m in model.modules())


# -------------------------------------------------------------- with_cp
def test_with_cp_same_values_and_grads(family):
    torch.manual_seed(0)
    a = build(family, out_indices=(1, 3))
    b = build(family, out_indices=(1, 3), with_cp=True)
    assert all(blk.with_cp for blk in b.blocks())
    assert not any(blk.with_cp for blk in a.blocks())
    b.load_state_dict(a.state_dict())
    if family.cp_bn_eval:  # BN statistics in eval, grads still flow
        bn_eval(a.train()), bn_eval(b.train())
    n, size = family.cp_size
    x = torch.randn(n, 3, size, size, requires_grad=True)
    ya = sum(o.sum() for o in a(x))
    yb = sum(o.sum() for o in b(x))
    ga = torch.autograd.grad(ya, list(a.parameters()))
    gb = torch.autograd.grad(yb, list(b.parameters()))
    torch.testing.assert_close(ya, yb)
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v)


# ----------------------------------------------------- stochastic depth
def drop_path_rates(model):
    """Rate of every ``*drop_path`` layer, block by block."""
    return [
        getattr(m, 'drop_prob', 0.) for blk in model.blocks()
        for name, m in blk.named_children() if name.endswith('drop_path')
    ]


def test_drop_path_is_stochastic_in_training_only(family):
    model = build(family, drop_path_rate=0.5)
    dpr = [
        blk.drop_path.drop_prob for blk in model.blocks()
        if hasattr(blk.drop_path, 'drop_prob')
    ]
    assert dpr[-1] == pytest.approx(0.5) and dpr == sorted(dpr)
    assert len(list(model.blocks())) == sum(model.depths)
    x = torch.randn(2, 3, family.size, family.size)
    model.eval()
    torch.testing.assert_close(model(x)[0], model(x)[0])
    bn_eval(model.train())  # freeze BN stats to isolate drop path
    assert not torch.allclose(model(x)[0], model(x)[0])


def test_set_drop_path_rate(family):
    model = build(family, drop_path_rate=0.2)
    full = drop_path_rates(model)
    keys = list(model.state_dict())
    names = [n for n, _ in model.named_modules()]
    model.set_drop_path_rate(0.)
    assert model.drop_path_rate == 0. and not any(drop_path_rates(model))
    model.set_drop_path_rate(0.2)
    assert model.drop_path_rate == 0.2
    assert drop_path_rates(model) == pytest.approx(full)
    # the layers are replaced in place: same names, same order
    assert [n for n, _ in model.named_modules()] == names
    assert list(model.state_dict()) == keys


def test_drop_path_warmup_hook(family):
    model = classifier(family, drop_path_rate=0.2)
    hook = DropPathWarmupHook(warmup_epochs=100)
    full = drop_path_rates(model.backbone)
    for epoch, expect in ((0, 0.), (99, 0.), (100, 0.2), (150, 0.2)):
        hook.before_train_epoch(SimpleNamespace(model=model, epoch=epoch))
        assert max(drop_path_rates(model.backbone)) == pytest.approx(expect)
    assert drop_path_rates(model.backbone) == pytest.approx(full)


# ----------------------------------------------------------------- init
def test_official_init_and_gradients_flow(family):
    torch.manual_seed(0)
    model = build(family)
    model.init_weights()
    family.init_check(model)
    size = 2 * family.size
    model(torch.randn(2, 3, size, size))[0].mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_pretrained_init_cfg(family, tmp_path):
    src = build(family)
    ckpt = tmp_path / 'ckpt.pth'
    torch.save(
        {
            'state_dict': {
                f'backbone.{k}': v
                for k, v in src.state_dict().items()
            }
        }, ckpt)
    dst = build(
        family,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(ckpt), prefix='backbone.'))
    dst.init_weights()
    for k, v in src.state_dict().items():
        torch.testing.assert_close(dst.state_dict()[k], v)
    assert dst.init_cfg['type'] == 'Pretrained'  # restored after loading


# --------------------------------------------------- layer-wise lr decay
def test_layer_depth_for_layer_decay(family):
    model = build(family)
    n = sum(model.depths) + 2
    assert model.get_layer_depth('backbone.patch_embeds.0.0.weight',
                                 'backbone.') == (0, n)
    for i, depth in enumerate(model.depths):
        for j in range(depth):
            name = 'backbone.' + family.block_param.format(i=i, j=j)
            assert model.get_layer_depth(
                name, 'backbone.') == (sum(model.depths[:i]) + j + 1, n), name
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == (n - 1, n)
    for name, _ in model.named_parameters():  # inside the backbone
        assert 0 <= model.get_layer_depth(name)[0] <= n - 2, name
