"""Learning curves from mmengine's scalars.json: mogazoo.visualization.curves
and tools/analysis_tools/plot_curves.py."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mogazoo.visualization import find_scalars, plot_curves
from runner_utils import load_tool, tool_exit

TOOL = 'tools/analysis_tools/plot_curves.py'


def write_run(work_dir, timestamp, n_train, n_val, iters_per_epoch=3):
    """A fake run ``work_dir/timestamp``: ``n_train`` training records and
    ``n_val`` validation records (on lines of their own, as mmengine writes
    them); returns its losses and accuracies."""
    vis = osp.join(work_dir, timestamp, 'vis_data')
    os.makedirs(vis, exist_ok=True)
    losses = [2.3 / (i + 1) for i in range(n_train)]
    accs = [10.0 * (e + 1) for e in range(n_val)]
    lines, v = [], 0
    for i, loss in enumerate(losses, 1):
        lines.append(
            dict(
                lr=1e-3,
                data_time=0.01,
                loss=loss,
                time=0.1,
                epoch=(i - 1) // iters_per_epoch + 1,
                iter=i,
                step=i))
        if i % iters_per_epoch == 0 and v < n_val:
            v += 1
            lines.append({
                'accuracy/top1': accs[v - 1],
                'accuracy/top5': 100.0,
                'data_time': 0.02,
                'time': 0.2,
                'step': v
            })
    assert v == n_val, 'too few training records for the validations'
    with open(osp.join(vis, 'scalars.json'), 'w') as f:
        f.write('\n'.join(json.dumps(r) for r in lines) + '\n')
    return losses, accs


@pytest.fixture
def runs(tmp_path):
    """Two work dirs: ``a`` with an older and a newer run (7 training and 2
    validation points in the newer), ``b`` with one run (5 and 2)."""
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    write_run(a, '20240101_000000', 2, 0)  # older: must not be chosen
    a_data = write_run(a, '20240102_000000', 7, 2)
    b_data = write_run(b, '20240103_000000', 5, 2, iters_per_epoch=2)
    return dict(a=(a, ) + a_data, b=(b, ) + b_data)


def line_points(fig):
    """``{subplot title: {line label: (x, y)}}`` of the drawn lines."""
    return {
        ax.get_title(): {
            ln.get_label(): (ln.get_xdata(), ln.get_ydata())
            for ln in ax.get_lines()
        }
        for ax in fig.axes
    }


def test_find_scalars_takes_latest_run(runs):
    a = runs['a'][0]
    assert find_scalars(a) == osp.join(a, '20240102_000000', 'vis_data',
                                       'scalars.json')
    run = osp.join(a, '20240101_000000')  # a run folder given itself
    assert find_scalars(run) == osp.join(run, 'vis_data', 'scalars.json')


def test_plot_curves_library(runs, tmp_path):
    (a, a_loss, a_acc), (b, b_loss, b_acc) = runs['a'], runs['b']
    out = str(tmp_path / 'out' / 'curves.png')
    data = plot_curves([a, b], ['loss', 'accuracy/top1'],
                       out=out,
                       figsize=(6, 2.5),
                       dpi=50)
    # returned data: what the logs hold, step on x
    loss, acc = data['curves']['loss'], data['curves']['accuracy/top1']
    assert len(loss['a']['step']) == 7 and len(loss['b']['step']) == 5
    assert loss['a']['value'] == pytest.approx(a_loss)
    assert loss['b']['step'] == [1, 2, 3, 4, 5]
    assert loss['b']['value'] == pytest.approx(b_loss)
    assert acc['a']['step'] == [1, 2] and acc['b']['step'] == [1, 2]
    assert acc['a']['value'] == a_acc and acc['b']['value'] == b_acc
    assert loss['a']['train'] and not acc['a']['train']
    # the figure: one subplot per key, one line per run, the same points
    drawn = line_points(data['figure'])
    assert list(drawn) == ['loss', 'accuracy/top1']
    for key, per_run in data['curves'].items():
        assert set(drawn[key]) == {'a', 'b'}
        for label, points in per_run.items():
            x, y = drawn[key][label]
            assert len(x) == len(points['step'])
            np.testing.assert_allclose(x, points['step'])
            np.testing.assert_allclose(y, points['value'])
    # a run keeps its colour across subplots
    axes = data['figure'].axes
    assert [ln.get_color() for ln in axes[0].get_lines()] == \
        [ln.get_color() for ln in axes[1].get_lines()]
    # the PNG: (6 x 2.5 in per subplot, 2 subplots) at 50 dpi, not blank
    with Image.open(out) as img:
        assert img.format == 'PNG'
        assert img.size == (300, 250)
        pixels = np.asarray(img.convert('RGB'))
    assert (pixels != 255).any(axis=2).mean() > 0.01
    # the colours of the two runs are drawn (matplotlib's C0 and C1)
    c0, c1 = np.array([31, 119, 180]), np.array([255, 127, 14])
    for colour in (c0, c1):
        assert (np.abs(pixels.astype(int) - colour).sum(axis=2) < 60).any()


def test_plot_curves_default_keys_and_labels(runs):
    a, b = runs['a'][0], runs['b'][0]
    data = plot_curves([a, b], labels=['first', 'second'])
    assert data['keys'] == ['loss', 'lr', 'accuracy/top1']  # lr: a panel
    assert set(data['curves']['loss']) == {'first', 'second'}
    assert data['out'] is None


def test_plot_curves_cli(runs, tmp_path, capsys):
    a, b = runs['a'][0], runs['b'][0]
    out = str(tmp_path / 'cli.png')
    data = load_tool(TOOL).main([
        a, b, '--keys', 'loss', 'accuracy/top1', 'lr', '--out', out,
        '--labels', 'A', 'B', '--dpi', '40'
    ])
    printed = capsys.readouterr().out
    assert 'run 20240102_000000, latest of 2 runs' in printed
    assert 'run 20240103_000000, the only run' in printed
    assert 'loss: points per run: A 7, B 5' in printed
    assert 'accuracy/top1: points per run: A 2, B 2' in printed
    drawn = line_points(data['figure'])
    expected = {'loss': (7, 5), 'accuracy/top1': (2, 2), 'lr': (7, 5)}
    assert list(drawn) == list(expected)
    for key, (n_a, n_b) in expected.items():
        assert len(drawn[key]['A'][0]) == n_a
        assert len(drawn[key]['B'][0]) == n_b
    with Image.open(out) as img:
        assert img.size == (8 * 40, 3 * 40 * 3)  # default 8 x 3 in/key


def test_cli_errors(runs, tmp_path):
    a = runs['a'][0]
    missing = str(tmp_path / 'nowhere')
    msg = tool_exit(TOOL, missing, '--out', tmp_path / 'x.png')
    assert 'not found' in msg and missing in msg
    empty = tmp_path / 'empty'
    (empty / '20240101_000000').mkdir(parents=True)
    msg = tool_exit(TOOL, empty, '--out', tmp_path / 'x.png')
    assert 'No scalars.json' in msg and str(empty) in msg
    msg = tool_exit(TOOL, a, '--keys', 'loss', 'acc/top1', '--out',
                    tmp_path / 'x.png')
    assert "'acc/top1' is in no run" in msg
    assert 'accuracy/top1' in msg and 'loss' in msg and 'lr' in msg
    msg = tool_exit(TOOL, a, '--labels', 'x', 'y', '--out', tmp_path / 'x.png')
    assert '2 labels for 1 work dirs' in msg
    assert not (tmp_path / 'x.png').exists()


def test_key_in_one_run_only_and_broken_line(runs, tmp_path):
    a, b = runs['a'][0], runs['b'][0]
    path = find_scalars(b)
    with open(path) as f:
        lines = f.read().splitlines()
    lines = [ln for ln in lines if 'accuracy' not in ln]
    with open(path, 'w') as f:  # no validation; last line cut short
        f.write('\n'.join(lines) + '\n{"loss": 0.1, "st')
    with pytest.warns(UserWarning) as record:
        data = plot_curves([a, b], ['loss', 'accuracy/top1'])
    messages = [str(w.message) for w in record]
    assert any('not a JSON object' in m for m in messages)
    assert any("'accuracy/top1' is not in run b" in m for m in messages)
    assert len(data['curves']['loss']['b']['step']) == 5
    assert set(data['curves']['accuracy/top1']) == {'a'}


def test_tensorboard_recipe_of_a_child_config(root, digits_subset, tmp_path):
    """The README's TensorBoard recipe works in a child config: the run
    writes TensorBoard event files next to scalars.json, and the curves of
    that run plot. A top-level vis_backends in the child (the old hint)
    does not reach the visualizer."""
    from mogazoo.utils import load_config
    from runner_utils import tiny_cfg, train
    base = f'{root}/configs/moganet/moganet-xtiny_1xb64_digits.py'
    good, bad = tmp_path / 'tb.py', tmp_path / 'old_hint.py'
    good.write_text(
        f'_base_ = [{base!r}]\n'
        "visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), "
        "dict(type='TensorboardVisBackend')])\n")
    bad.write_text(f'_base_ = [{base!r}]\n'
                   "vis_backends = [dict(type='LocalVisBackend'), "
                   "dict(type='TensorboardVisBackend')]\n")
    types = [b['type'] for b in load_config(str(bad)).visualizer.vis_backends]
    assert types == ['LocalVisBackend']
    cfg = tiny_cfg(
        str(good), digits_subset, tmp_path / 'work', samples=(32, 16))
    assert [b['type'] for b in cfg.visualizer.vis_backends
            ] == ['LocalVisBackend', 'TensorboardVisBackend']
    train(cfg)
    scalars = find_scalars(str(tmp_path / 'work'))
    vis_data = osp.dirname(scalars)
    assert any(
        f.startswith('events.out.tfevents') for f in os.listdir(vis_data))
    res = plot_curves([str(tmp_path / 'work')], ['loss'])
    [line] = res['curves']['loss'].values()
    assert len(line['step']) == 2  # 32 images / batch 16, logged each step


def test_profiler_recipe_of_a_child_config(root, digits_subset, tmp_path,
                                           capsys):
    """The README's profiler recipe: mmengine's ProfilerHook in a child
    config profiles the first iterations, prints the table of the costliest
    operators and writes a Chrome trace of real operator events."""
    import json

    from runner_utils import tiny_cfg, train
    base = f'{root}/configs/moganet/moganet-xtiny_1xb64_digits.py'
    trace = tmp_path / 'trace.json'
    child = tmp_path / 'profile.py'
    child.write_text(
        f'_base_ = [{base!r}]\n'
        "custom_hooks = [dict(type='ThroughputHook'), dict(\n"
        "    type='ProfilerHook', by_epoch=False, profile_times=2,\n"
        "    on_trace_ready=dict(type='log_trace', "
        "sort_by='self_cpu_time_total', row_limit=10),\n"
        f'    json_trace_path={str(trace)!r})]\n')
    cfg = tiny_cfg(str(child), digits_subset, tmp_path / 'work')
    _, _, log = train(cfg)
    table = capsys.readouterr().out
    assert 'Self CPU time total' in table and 'aten::' in table
    with open(trace) as f:
        events = json.load(f)['traceEvents']
    names = {e.get('name', '') for e in events}
    # forward and backward convolutions of the two profiled iterations
    assert {'aten::conv2d', 'aten::convolution_backward'} <= names
    # the throughput hook is kept next to the profiler
    assert 'images_per_sec' in log


def test_axes_say_what_they_count(runs, tmp_path):
    """Validation points of an epoch-based run are drawn over epochs,
    training points over iterations; accuracy on 0-100 with the best point
    of each run marked; a loss spanning a decade on a log axis; the
    learning rate in its own panel (issue 27 item 1)."""
    (a, _, a_acc), (b, _, b_acc) = runs['a'], runs['b']
    data = plot_curves([a, b], ['loss', 'lr', 'accuracy/top1'], dpi=40)
    loss_ax, lr_ax, acc_ax = data['figure'].axes
    assert loss_ax.get_xlabel() == 'iteration'
    assert lr_ax.get_xlabel() == 'iteration' and lr_ax.get_title() == 'lr'
    assert acc_ax.get_xlabel() == 'epoch'
    assert acc_ax.get_ylim() == (0, 100)
    # 2.3 / i over 7 iterations spans 7x: linear; a made-up 100x: log
    assert loss_ax.get_yscale() == 'linear'
    assert data['styles']['accuracy/top1']['best'] == {
        'a': (2, max(a_acc)),
        'b': (2, max(b_acc))
    }
    marks = [c.get_offsets().tolist() for c in acc_ax.collections]
    assert marks == [[[2, max(a_acc)]], [[2, max(b_acc)]]]
    # every validated epoch is a point of the accuracy curve
    xs = {ln.get_label(): list(ln.get_xdata()) for ln in acc_ax.get_lines()}
    assert xs == {'a': [1, 2], 'b': [1, 2]}
    assert data['figure'].axes[0].get_legend() is not None


def test_loss_spanning_decades_is_on_a_log_axis(tmp_path):
    work_dir = str(tmp_path / 'w')
    write_run(work_dir, '20240101_000000', 40, 1, iters_per_epoch=40)
    data = plot_curves([work_dir], ['loss'], dpi=40)
    assert data['figure'].axes[0].get_yscale() == 'log'  # 2.3 .. 0.058


def test_curves_of_a_real_run_have_a_point_per_validated_epoch(
        root, digits_subset, tmp_path):
    """What make demo draws, on a short real run of the digits config: the
    accuracy panel has one point per validated epoch (the config validates
    every epoch), over epochs, 0-100, its best marked."""
    from mogazoo.utils import load_config
    from runner_utils import load_tool, tiny_cfg, train
    config = f'{root}/configs/moganet/moganet-xtiny_1xb64_digits.py'
    assert load_config(config).train_cfg.val_interval == 1
    cfg = tiny_cfg(
        config,
        digits_subset,
        tmp_path / 'work',
        epochs=3,
        samples=(32, 16),
        validate=True)
    cfg.train_cfg.val_interval = 1
    train(cfg)
    keys = load_tool('tools/run_demo.py').DEMO_CURVES
    data = plot_curves([str(tmp_path / 'work')], keys)
    loss_ax, lr_ax, acc_ax = data['figure'].axes
    [line] = acc_ax.get_lines()
    assert list(line.get_xdata()) == [1, 2, 3]
    assert acc_ax.get_xlabel() == 'epoch' and acc_ax.get_ylim() == (0, 100)
    assert loss_ax.get_xlabel() == 'iteration'
    assert len(lr_ax.get_lines()[0].get_xdata()) == 6  # 2 iterations x 3
    assert len(acc_ax.collections) == 1  # the best epoch, marked
