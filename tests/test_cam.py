"""Class activation maps: mogazoo.visualization.cam and
tools/visualization/vis_cam.py (needs the optional grad-cam package)."""
import glob
import os.path as osp

import numpy as np
import pytest
from PIL import Image

import mogazoo
from mogazoo.visualization import compute_cam, default_target_layers
from runner_utils import load_tool, tool_exit

pytest.importorskip('pytorch_grad_cam')

TOOL = 'tools/visualization/vis_cam.py'
CONFIG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'
# the digit at the scale it was trained at (32x32) in a corner of a black
# 64x64 canvas: the last stage (stride 32) has a 2x2 map, one cell per
# corner (at the config's 32x32 it is 1x1 and the CAM is flat)
CANVAS, DIGIT = 64, 32
PIPELINE_64 = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='Resize', scale=(CANVAS, CANVAS)),
    dict(type='PackInputs'),
]
CORNERS = [(0, 0), (0, CANVAS - DIGIT), (CANVAS - DIGIT, 0),
           (CANVAS - DIGIT, CANVAS - DIGIT)]


def canvas(digit_png, corner, path):
    """The 8x8 digit of ``digit_png`` resized to ``DIGIT`` (bicubic, as
    the training pipeline does) at ``corner`` of a black ``CANVAS`` image,
    saved at ``path``; returns its box ``(y, x, side)``."""
    with Image.open(digit_png) as img:
        digit = np.asarray(
            img.convert('L').resize((DIGIT, DIGIT), Image.BICUBIC))
    out = np.zeros((CANVAS, CANVAS), np.uint8)
    y, x = corner
    out[y:y + DIGIT, x:x + DIGIT] = digit
    Image.fromarray(out).save(path)
    return y, x, DIGIT


def inside_outside(values, box):
    """Mean of ``values`` (H x W) inside and outside ``box``."""
    y, x, side = box
    mask = np.zeros(values.shape[:2], bool)
    mask[y:y + side, x:x + side] = True
    return values[mask].mean(), values[~mask].mean()


def first_val_digits(root):
    """The first validation image of each class and its label."""
    return [(sorted(glob.glob(osp.join(root, 'val', str(c), '*.png')))[0], c)
            for c in range(10)]


def test_cam_localizes_the_digit(digits_checkpoint, digits_subset, tmp_path):
    model = mogazoo.get_model(
        CONFIG, digits_checkpoint,
        **{'test_dataloader.dataset.pipeline': PIPELINE_64})
    ratios = []
    for i, (png, label) in enumerate(first_val_digits(digits_subset)):
        path = str(tmp_path / f'canvas_{label}.png')
        box = canvas(png, CORNERS[i % 4], path)
        result = compute_cam(model, path, target_category=label)
        assert result.target_layers == ['backbone.stages.3']
        assert result.feature_sizes == [(2, 2)]
        assert result.label == label
        cam = result.cam
        assert cam.shape == (CANVAS, CANVAS) and cam.dtype == np.float32
        assert np.isfinite(cam).all() and cam.min() >= 0 and cam.max() <= 1
        assert result.image.shape == (CANVAS, CANVAS, 3)
        inside, outside = inside_outside(cam, box)
        ratios.append(inside / max(outside, 1e-6))
    # the class's evidence is where the digit is: for (nearly) every digit
    wins = sum(r > 1 for r in ratios)
    assert wins >= 8, f'CAM inside/outside ratios {np.round(ratios, 2)}'
    assert np.median(ratios) > 2, np.round(ratios, 2)


def test_cli_writes_overlay(digits_checkpoint, digits_subset, tmp_path,
                            capsys):
    png, label = first_val_digits(digits_subset)[3]
    image = str(tmp_path / 'three.png')
    box = canvas(png, CORNERS[3], image)
    out = str(tmp_path / 'out' / 'cam.png')
    [result] = load_tool(TOOL).main([
        image, CONFIG, digits_checkpoint, '--target-category',
        str(label), '--out', out, '--cfg-options',
        'test_dataloader.dataset.pipeline.1.scale=64,64'
    ])
    assert f'class {label} ({label})' in capsys.readouterr().out
    with Image.open(out) as img:
        assert img.format == 'PNG' and img.size == (CANVAS, CANVAS)
        pixels = np.asarray(img.convert('RGB')).astype(np.float32)
    np.testing.assert_array_equal(pixels, result.overlay)
    # jet: hot is red, cold is blue; the digit's strokes are grey (R = B)
    heat = pixels[..., 0] - pixels[..., 2]
    inside, outside = inside_outside(heat, box)
    assert inside > outside + 20, (inside, outside)


def test_cli_several_images_to_folder(digits_checkpoint, digits_subset,
                                      tmp_path):
    (png0, _), (png1, _) = first_val_digits(digits_subset)[:2]
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    images = [
        str(tmp_path / 'a' / 'x.png'),
        str(tmp_path / 'b' / 'x.png'),
        str(tmp_path / 'b' / 'y.png')
    ]
    for path, png in zip(images, (png0, png1, png1)):
        canvas(png, CORNERS[0], path)
    out = tmp_path / 'cams'
    # the config's 32x32: the last stage is 1x1, the default is stage 2
    results = load_tool(TOOL).main(
        images +
        [CONFIG, digits_checkpoint, '--method', 'layercam', '--out',
         str(out)])
    assert sorted(p.name for p in out.iterdir()) == \
        ['x_0.png', 'x_1.png', 'y.png']
    assert [r.method for r in results] == ['layercam'] * 3
    assert results[0].target_layers == ['backbone.stages.2']
    assert results[0].feature_sizes == [(2, 2)]
    assert results[0].cam.std() > 0
    with pytest.warns(UserWarning, match=r'1x1 map .* the CAM is flat'):
        load_tool(TOOL).main(images[:1] + [
            CONFIG, digits_checkpoint, '--target-layers', 'backbone.stages.3',
            '--out',
            str(tmp_path / 'flat.png')
        ])
    with Image.open(out / 'y.png') as img:  # the config's 32x32 input
        assert img.size == (32, 32)
    msg = tool_exit(TOOL, *images[:2], CONFIG, digits_checkpoint, '--out',
                    tmp_path / 'one.png')
    assert 'with several images --out is a folder' in msg


def test_cli_errors(digits_checkpoint, digits_subset, tmp_path):
    png, _ = first_val_digits(digits_subset)[0]
    missing = str(tmp_path / 'missing.png')
    msg = tool_exit(TOOL, missing, CONFIG, digits_checkpoint, '--out',
                    tmp_path / 'c.png')
    assert msg == f'vis_cam.py: error: Image not found: {missing}'
    msg = tool_exit(TOOL, png, CONFIG, digits_checkpoint, '--target-layers',
                    'backbone.stages.7', '--out', tmp_path / 'c.png')
    assert "No module 'backbone.stages.7'" in msg
    assert "'backbone.stages' has: backbone.stages.0" in msg
    assert 'backbone.stages.3' in msg
    msg = tool_exit(TOOL, png, CONFIG, digits_checkpoint, '--target-layers',
                    'backbone.stagez.1', '--out', tmp_path / 'c.png')
    assert "No module 'backbone.stagez.1'" in msg
    assert 'closest names: backbone.stages.1' in msg
    msg = tool_exit(TOOL, png, CONFIG, digits_checkpoint, '--target-category',
                    '10', '--out', tmp_path / 'c.png')
    assert 'target_category 10 is out of range: the model has 10' in msg
    assert not (tmp_path / 'c.png').exists()
    model = mogazoo.get_model(CONFIG)
    with pytest.raises(FileNotFoundError, match='Image not found'):
        compute_cam(model, missing)
    with pytest.raises(ValueError, match='Unknown CAM method'):
        compute_cam(model, png, method='scorecam')


# random tiny models of the three families (as tests/test_backbone_contract)
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
FAMILIES = {
    'MogaNet': (dict(type='MogaNet', arch='xtiny'), 192, 'backbone.stages.3'),
    'DGMN2': (dict(type='DGMN2', arch='tiny', sampler='pytorch'), 512,
              'backbone.stages.3.1'),  # a ModuleList: its last block
    'FasterViT': (dict(type='FasterViT', arch=FASTERVIT_TINY,
                       any_res=True), 128, 'backbone.stages.3'),
}
_MODELS = {}


def family_model(name):
    """A random classifier of the family on 64x96 (h x w) inputs."""
    if name not in _MODELS:
        backbone, dims, _ = FAMILIES[name]
        pipeline = [dict(t) for t in PIPELINE_64]
        pipeline[1]['scale'] = (96, 64)  # (w, h)
        _MODELS[name] = mogazoo.get_model(
            CONFIG, **{
                'model.backbone': dict(backbone, _delete_=True),
                'model.head.in_channels': dims,
                'test_dataloader.dataset.pipeline': pipeline
            })
    return _MODELS[name]


@pytest.fixture(scope='module')
def noise_image():
    return (np.random.default_rng(0).random(
        (50, 70, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize('method',
                         ['gradcam', 'gradcam++', 'layercam', 'eigencam'])
@pytest.mark.parametrize('family', list(FAMILIES))
def test_family_default_layer(family, method, noise_image):
    model = family_model(family)
    assert default_target_layers(model) == [FAMILIES[family][2]]
    result = compute_cam(model, noise_image, method=method)
    assert result.target_layers == [FAMILIES[family][2]]
    # stride 32 of 64 x 96; DGMN2's tokens reshaped with their hw_shape
    assert result.feature_sizes == [(2, 3)]
    assert result.cam.shape == (64, 96)
    assert np.isfinite(result.cam).all()
    assert result.cam.min() >= 0 and result.cam.max() <= 1
    assert result.overlay.shape == (64, 96, 3)


def test_layer_outputs(noise_image):
    # a tuple (the backbone's outputs): its first tensor
    result = compute_cam(
        family_model('MogaNet'), noise_image, target_layers=['backbone'])
    assert result.feature_sizes == [(2, 3)]
    # tokens of a block in an earlier stage, several layers averaged
    result = compute_cam(
        family_model('DGMN2'),
        noise_image,
        target_layers=['backbone.stages.2.1', 'backbone.stages.3.1'])
    assert result.feature_sizes == [(4, 6), (2, 3)]
    assert result.cam.shape == (64, 96)
    # a ModuleList the backbone iterates is never called
    with pytest.raises(ValueError, match='is not called in the forward'):
        compute_cam(
            family_model('DGMN2'),
            noise_image,
            target_layers=['backbone.stages.3'])
    # FasterViT blocks return window-partitioned tokens and carrier tokens
    with pytest.raises(
            ValueError,
            match="'backbone.stages.3.blocks.0' "
            'returns a tensor of shape'):
        compute_cam(
            family_model('FasterViT'),
            noise_image,
            target_layers=['backbone.stages.3.blocks.0'])


def test_frozen_model_and_aug_smooth(noise_image):
    model = family_model('MogaNet')
    free = compute_cam(model, noise_image, method='layercam')
    model.requires_grad_(False)  # e.g. a frozen backbone: no activation
    try:  # needs a gradient unless the input does
        frozen = compute_cam(model, noise_image, method='layercam')
    finally:
        model.requires_grad_(True)
    np.testing.assert_allclose(frozen.cam, free.cam, atol=1e-6)
    assert all(p.grad is None for p in model.parameters())
    smooth = compute_cam(model, noise_image, aug_smooth=True)
    assert smooth.cam.shape == (64, 96) and np.isfinite(smooth.cam).all()
