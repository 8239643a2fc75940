"""Demo pictures: demo/image_demo.py --out (the image, its CAM and the
top-k bars), mogazoo.visualization.predictions, and demo/downstream_demo.py
(boxes and class maps drawn by mmdet's / mmseg's visualizers)."""
import glob
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import mogazoo
from mogazoo.apis import init_downstream_model
from mogazoo.visualization import (BAR_COLOR, compute_cam, enlarge,
                                   informative_target_layers, render_bars)
from mogazoo.visualization.cam import preprocess
from runner_utils import ROOT, load_tool, tool_exit

DEMO = 'demo/image_demo.py'
DOWNSTREAM = 'demo/downstream_demo.py'
CONFIG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'
DET = 'configs/moganet/det/retinanet_moganet-xtiny_fpn_digit-scenes.py'
SEG = 'configs/moganet/seg/fpn_moganet-xtiny_digit-scenes.py'


def bar_widths(picture):
    """Width in pixels of each run of bar-coloured rows, top to bottom (the
    widest row of each bar)."""
    bar = np.all(picture == np.array(BAR_COLOR, np.uint8), axis=2)
    counts = bar.sum(axis=1)
    widths, current = [], 0
    for c in counts:
        if c:
            current = max(current, int(c))
        elif current:
            widths.append(current)
            current = 0
    if current:
        widths.append(current)
    return widths


def assert_bars_are_scores(widths, scores, size):
    """Each bar is its score times the score axis (0..1), which is 0.6 of
    the ``1.6 * size`` wide panel; the y axis covers ~2 pixels of each
    bar's start, so bars under 4 pixels may not show."""
    axis = 0.6 * round(1.6 * size)
    visible = [s for s in scores if s * axis >= 4]
    assert len(visible) <= len(widths) <= len(scores), (widths, scores)
    for width, score in zip(widths, scores):
        assert -3.5 <= width - score * axis <= 0.5, (widths, scores)


def test_bar_lengths_are_the_scores():
    preds = [
        dict(label=3, score=0.6, class_name='3'),
        dict(label=1, score=0.25, class_name='1'),
        dict(label=7, score=0.1, class_name=None),
        dict(label=0, score=0.05, class_name='zero'),
    ]
    picture = render_bars(preds, size=300)
    assert picture.shape == (300, 480, 3) and picture.dtype == np.uint8
    widths = bar_widths(picture)
    # best on top
    assert_bars_are_scores(widths, [p['score'] for p in preds], 300)
    with pytest.raises(ValueError, match='no predictions'):
        render_bars([])


def test_enlarge_is_nearest():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    big = enlarge(img, 4)
    assert big.shape == (4, 6, 3)
    np.testing.assert_array_equal(big, img.repeat(2, 0).repeat(2, 1))
    with pytest.raises(ValueError, match='H x W x 3 uint8'):
        enlarge(img[..., 0], 4)


def first_val_digits(root):
    return [(sorted(glob.glob(osp.join(root, 'val', str(c), '*.png')))[0], c)
            for c in range(10)]


def test_informative_layer(digits_checkpoint, digits_subset):
    """At the digits' 32x32 the last stage is 1x1 (a flat CAM): the stride-16
    stage is taken; at 64x64 the last stage (2x2) is."""
    image = first_val_digits(digits_subset)[0][0]
    model = mogazoo.get_model(CONFIG, digits_checkpoint)
    assert informative_target_layers(model, image) == ['backbone.stages.2']
    model64 = mogazoo.get_model(
        CONFIG, digits_checkpoint,
        **{'test_dataloader.dataset.pipeline.1.scale': (64, 64)})
    assert informative_target_layers(model64, image) == ['backbone.stages.3']


def test_image_demo_picture(digits_checkpoint, digits_subset, tmp_path,
                            capsys):
    image, _ = first_val_digits(digits_subset)[3]
    out = tmp_path / 'result.png'
    preds, picture = load_tool(DEMO).main([
        image, CONFIG, '--checkpoint', digits_checkpoint, '--out',
        str(out), '--cam', '--topk', '3', '--size', '128'
    ])
    assert 'with its CAM' in capsys.readouterr().out
    saved = np.asarray(Image.open(out).convert('RGB'))
    np.testing.assert_array_equal(saved, picture)
    # panel 1: the model's input, panel 2: the CAM overlay of the
    # predicted class on the stride-16 stage, each enlarged to 128 x 128
    model = mogazoo.get_model(CONFIG, digits_checkpoint)
    _, shown = preprocess(model, image)
    np.testing.assert_array_equal(saved[:, :128], enlarge(shown, 128))
    cam = compute_cam(
        model, image, target_layers=['backbone.stages.2']).overlay
    np.testing.assert_array_equal(saved[:, 136:264], enlarge(cam, 128))
    assert cam.std() > 0  # not the flat 1x1 map
    # panel 3: three bars of the printed scores
    widths = bar_widths(saved[:, 272:])
    assert preds[0]['score'] >= preds[1]['score'] >= preds[2]['score']
    assert_bars_are_scores(widths, [p['score'] for p in preds], 128)

    # without --cam: image and bars only
    _, plain = load_tool(DEMO).main([
        image, CONFIG, '--checkpoint', digits_checkpoint, '--out',
        str(tmp_path / 'plain.png'), '--topk', '3', '--size', '128'
    ])
    assert plain.shape[1] == picture.shape[1] - 136
    np.testing.assert_array_equal(plain[:, 136:], picture[:, 272:])


def test_image_demo_errors(digits_checkpoint, tmp_path, capsys):
    assert tool_exit(DEMO, 'x.png', CONFIG, '--cam') == 2
    assert '--cam draws into the picture' in capsys.readouterr().err
    msg = tool_exit(DEMO, tmp_path / 'missing.png', CONFIG, '--checkpoint',
                    digits_checkpoint, '--out', tmp_path / 'r.png')
    assert 'Image not found' in msg and 'missing.png' in msg
    assert not (tmp_path / 'r.png').exists()


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """Two val scenes of the digit-scenes generator; the first one's path
    and its COCO boxes."""
    import json
    out = tmp_path_factory.mktemp('scenes') / 'digit_scenes'
    subprocess.run([
        sys.executable, 'tools/dataset_converters/make_digit_scenes.py',
        '--out',
        str(out), '--num-train', '2', '--num-val', '2'
    ],
                   cwd=ROOT,
                   check=True,
                   capture_output=True)
    with open(out / 'annotations' / 'instances_val.json') as f:
        coco = json.load(f)
    first = coco['images'][0]
    boxes = [
        a['bbox'] for a in coco['annotations'] if a['image_id'] == first['id']
    ]
    return str(out / 'val' / first['file_name']), boxes


def test_segmentation_demo_draws_the_class_map(scene, tmp_path, capsys):
    """Random weights: whatever the model predicts, the picture is the
    image blended half and half with the palette colour of the predicted
    class (mmseg's visualizer), except where it writes class names."""
    image, _ = scene
    out = tmp_path / 'seg.png'
    result, picture = load_tool(DOWNSTREAM).main(
        [image, SEG, '--out',
         str(out), '--opacity', '0.5'])
    assert 'segmentation ->' in capsys.readouterr().out
    rgb = np.asarray(Image.open(image).convert('RGB')).astype(float)
    assert picture.shape == rgb.shape
    np.testing.assert_array_equal(
        np.asarray(Image.open(out).convert('RGB')), picture)
    pred = result.pred_sem_seg.data[0].numpy()
    model_palette = np.array(
        init_downstream_model(SEG).dataset_meta['palette'], float)
    expected = 0.5 * rgb + 0.5 * model_palette[pred]
    close = np.abs(picture - expected).max(axis=2) <= 2
    assert close.mean() > 0.8, close.mean()


def test_detection_demo_draws_boxes(scene, tmp_path, capsys):
    """Random weights, threshold 0: the best box's outline is drawn in the
    picture (its pixels change; inside the box they do not, but for the
    mask-free RetinaNet the interior stays the image)."""
    image, _ = scene
    result, picture = load_tool(DOWNSTREAM).main(
        [image, DET, '--out',
         str(tmp_path / 'det.png'), '--score-thr', '0'])
    printed = capsys.readouterr().out
    assert 'detection ->' in printed and ' at [' in printed
    # the classes are the config's digits, not mmdet's COCO default
    digits = tuple(str(i) for i in range(10))
    assert init_downstream_model(DET).dataset_meta['classes'] == digits
    assert printed.splitlines()[0].split(':')[0] in digits
    rgb = np.asarray(Image.open(image).convert('RGB'))
    inst = result.pred_instances
    x1, y1, x2, y2 = inst.bboxes[int(inst.scores.argmax())].round().int()
    h, w = rgb.shape[:2]
    x1, x2 = sorted((int(x1.clamp(0, w - 1)), int(x2.clamp(0, w - 1))))
    y1, y2 = sorted((int(y1.clamp(0, h - 1)), int(y2.clamp(0, h - 1))))
    edge = np.zeros((h, w), bool)
    edge[y1, x1:x2 + 1] = edge[y2, x1:x2 + 1] = True
    edge[y1:y2 + 1, x1] = edge[y1:y2 + 1, x2] = True
    changed = np.any(picture != rgb, axis=2)
    assert changed[edge].mean() > 0.9


def test_downstream_demo_errors(scene, tmp_path):
    image, _ = scene
    msg = tool_exit(DOWNSTREAM, image, CONFIG, '--out', tmp_path / 'x.png')
    assert 'not a detection or segmentation config' in msg
    msg = tool_exit(DOWNSTREAM, image, DET, tmp_path / 'none.pth')
    assert 'Checkpoint not found' in msg and 'none.pth' in msg
    msg = tool_exit(DOWNSTREAM, tmp_path / 'no.png', SEG, '--out',
                    tmp_path / 'x.png')
    assert 'Image not found' in msg
    assert tool_exit(DOWNSTREAM, image, SEG, '--score-thr', '2') == 2
    assert not (tmp_path / 'x.png').exists()
