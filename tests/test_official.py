"""mogazoo against the official models, as recorded from the official code
by tests/data/make_golden.py (tests/official_records.py): the converters map
every recorded official state dict exactly onto the matching mogazoo model,
the hand-written key maps of the tests agree with the official keys, and
MogaNet gives the official logits."""
import pytest
import torch
from mmpretrain.models import build_classifier

import mogazoo  # noqa: F401
from mogazoo.checkpoint.converters import (convert_dgmn2, convert_fastervit,
                                           convert_moganet)
from mogazoo.models import MogaNet
from mogazoo.models.backbones.fastervit import FasterViT
from mogazoo.utils import load_config
import official_records
from helpers import (SMALL, fastervit_classifier, fastervit_official_key,
                     moganet_official_key)
from official_records import image, relative_error

CONVERT = {
    'MogaNet': convert_moganet,
    'FasterViT': convert_fastervit,
    'DGMN2': convert_dgmn2
}
# logits: float32 against float32, other order of operations
TOLERANCE = 1e-5
# ... recorded on another CPU: oneDNN picks its convolution kernels, and so
# their order of summation, by instruction set (MogaNet-XT's logits: below
# 1e-5 where they were recorded, 1.25e-5 on another 2-core Xeon with the same
# code); a wrong layer or weight is off by more than 1e-2
LOGIT_TOLERANCE = 3e-5


def config(name):
    """The config of the mogazoo model that an official checkpoint of the
    recorded model ``name`` is for; None for the FasterViTs the tests build
    themselves."""
    family, _, arch = name.partition('_')
    if family == 'moganet':
        batch = 64 if arch == 'xlarge' else 128
        return f'configs/moganet/moganet-{arch}_8xb{batch}_in1k.py'
    if family == 'dgmn2':
        return f'configs/dgmn2/dgmn2-{arch}_8xb128_in1k.py'
    if name.startswith('faster_vit_4_21k_'):
        return ('configs/fastervit/fastervit-4_in21k-pre-'
                f'{name.rsplit("_", 1)[1]}px_in1k.py')
    if name.endswith('_224') and not name.startswith('fastervit_small'):
        return f'configs/fastervit/fastervit-{name.split("_")[2]}' \
            '_32xb128_in1k.py'
    return None


def small_fastervit_arch(kwargs):
    """``helpers.SMALL`` with the windows and HAT flags of the official
    ``FasterViT(**kwargs)`` of the generator, checked to be the same
    network."""
    assert dict(
        embed_dims=[kwargs['dim'] * 2**i for i in range(4)],
        depths=kwargs['depths'],
        num_heads=kwargs['num_heads'],
        stem_channels=kwargs['in_dim'],
        ct_size=kwargs['ct_size'],
        layer_scale=kwargs['layer_scale'],
        propagation=kwargs['do_propagation']) == SMALL
    assert kwargs['mlp_ratio'] == 4 and kwargs.get('layer_scale_conv') is None
    return dict(SMALL, window_sizes=kwargs['window_size'], hat=kwargs['hat'])


def ours(name, root, **options):
    """The mogazoo classifier for the recorded official model ``name``."""
    entry = official_records.layout(name)
    builder, kwargs = entry['builder'], entry['kwargs']
    path = config(name)
    if path:
        cfg = load_config(f'{root}/{path}', options)
        return build_classifier(cfg.model)
    if builder == 'faster_vit_0_any_res':
        return fastervit_classifier(
            num_classes=1000,
            arch='0',
            any_res=True,
            resolution=tuple(kwargs['resolution']),
            window_sizes=kwargs['window_size'])
    any_res = builder == 'faster_vit_any_res.FasterViT'
    assert any_res or builder == 'faster_vit.FasterViT', builder
    resolution = kwargs['resolution']
    return fastervit_classifier(
        num_classes=kwargs['num_classes'],
        arch=small_fastervit_arch(kwargs),
        any_res=any_res,
        resolution=tuple(resolution) if any_res else resolution)


def shapes(state_dict):
    return {k: tuple(v.shape) for k, v in state_dict.items()}


@pytest.mark.filterwarnings('ignore:for .*. copying from a non-meta')
@pytest.mark.parametrize('name', official_records.names())
def test_converter_maps_the_official_state_dict_onto_ours(name, root):
    """Every recorded official model (MogaNet-XT...XL, FasterViT-0...6, the
    21K FasterViT-4s, any-resolution FasterViTs, DGMN2-T...L): its whole
    state dict converts to exactly our model's keys and shapes, loads
    strictly, carries every official parameter and running statistic over
    once; and our model has the official parameter count."""
    entry = official_records.layout(name)
    with torch.device('meta'):
        model = ours(name, root)
    official = official_records.official_state_dict(
        name, values=official_records.placeholder)
    converted = CONVERT[entry['family']](official)
    want, got = shapes(model.state_dict()), shapes(converted)
    assert sorted(set(want) - set(got)) == [], 'not in the conversion'
    assert sorted(set(got) - set(want)) == [], 'not in our model'
    assert got == want
    model.load_state_dict(converted, strict=True)
    carried = [id(v) for v in converted.values()]
    assert len(set(carried)) == len(carried), 'a tensor converted twice'
    dropped = [
        k for k in official_records.key_shapes(name)
        if id(official[k]) not in set(carried)
    ]
    assert dropped == []
    assert sum(p.numel() for p in model.parameters()) == entry['params']


@pytest.mark.parametrize(
    'name',
    official_records.names('moganet_') + official_records.names('faster'))
def test_hand_written_key_maps_give_the_official_keys(name, root):
    """The tests' independent mogazoo -> official maps (tests/helpers.py),
    which other tests use to check values key by key, name exactly the
    recorded official parameters and running statistics."""
    key_map = dict(
        MogaNet=moganet_official_key, FasterViT=fastervit_official_key)[
            official_records.layout(name)['family']]
    with torch.device('meta'):
        model = ours(name, root)
    mapped = {
        key_map(k): shape
        for k, shape in shapes(model.state_dict()).items()
        if not k.endswith('.num_batches_tracked')
    }
    assert mapped == official_records.key_shapes(name)


def backbone_key_shapes(model, key_map):
    return {
        key_map('backbone.' + k): shape
        for k, shape in shapes(model.state_dict()).items()
        if not k.endswith('.num_batches_tracked')
    }


@pytest.mark.parametrize(
    'name',
    official_records.names('moganet_') +
    [n for n in official_records.names('faster_vit_') if 'any_res' not in n])
def test_official_arch_names_build_the_official_networks(name):
    """The names the official code gives an arch (MogaNet's ``arch_zoo``
    keys, recorded from the official file; FasterViT's model names such as
    ``faster_vit_4_21k_768``) build the official network here: the
    backbone's keys and shapes."""
    entry = official_records.layout(name)
    want = {
        k: shape
        for k, shape in official_records.key_shapes(name).items()
        if not k.startswith('head.')
    }
    if entry['family'] == 'MogaNet':
        archs, backbone, key_map = entry['arch_names'], MogaNet, \
            moganet_official_key
    else:
        archs, backbone, key_map = [name], FasterViT, fastervit_official_key
    for arch in archs:
        with torch.device('meta'):
            model = backbone(arch)
        assert backbone_key_shapes(model, key_map) == want, arch


@pytest.mark.parametrize('case', official_records.logit_cases('moganet'))
def test_moganet_logits_equal_official(case, root):
    """The official MogaNet (models/moganet.py) with ``fill`` weights: our
    model from the converted official state dict, loaded strictly, gives its
    logits (also with ``attn_force_fp32``, the official fp32 gating)."""
    spec = official_records.logits(case)
    options = {f'model.backbone.{k}': v for k, v in spec['kwargs'].items()}
    model = ours(spec['model'], root, **options).eval()
    model.load_state_dict(
        convert_moganet(official_records.official_state_dict(spec['model'])),
        strict=True)
    with torch.no_grad():
        got = model(image(*spec['input'][2:], n=spec['input'][0]))
    err = relative_error(got, spec['logits'])
    assert err <= LOGIT_TOLERANCE, (err, got[0, :5].tolist())


def test_recorded_moganet_cases_tell_the_gating_paths_apart():
    """The recorded logits would catch a model that takes the other gating
    path (the official fp32 path applies the gate activation twice): the
    two cases differ by far more than the tolerance."""
    plain = official_records.logits('moganet_xtiny')['logits']
    fp32 = official_records.logits('moganet_xtiny_attn_force_fp32')['logits']
    assert relative_error(torch.tensor(fp32), plain) > 100 * TOLERANCE
