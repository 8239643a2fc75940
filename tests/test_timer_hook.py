"""The eta of the training log leaves out the warm-up (issue 27 item 2)."""
import types

import pytest
from mmengine.config import Config
from mmengine.hooks import IterTimerHook
from mmengine.logging import MessageHub

from mogazoo.engine.hooks import WarmupIterTimerHook
from mogazoo.engine.hooks import timer_hook as timer_module
from mogazoo.engine.runner import add_safety_hooks

#: seconds per iteration: the first compiles, then 2 s each
TIMES = [60.0, 2.0, 2.0, 2.0]
MAX_ITERS = 100


def etas(hook, monkeypatch, start_iter=0):
    """The eta after each of :data:`TIMES` (None where none is set)."""
    clock = [1000.0]
    monkeypatch.setattr(timer_module.time, 'time', lambda: clock[0])
    import mmengine.hooks.iter_timer_hook as upstream
    monkeypatch.setattr(upstream.time, 'time', lambda: clock[0])
    hub = MessageHub.get_instance(f'timer-{id(hook)}')
    runner = types.SimpleNamespace(
        message_hub=hub, iter=start_iter, max_iters=MAX_ITERS)
    hook.before_train(runner)
    hook._before_epoch(runner)
    out = []
    for seconds in TIMES:
        hook._before_iter(runner, 0)
        clock[0] += seconds
        hook._after_iter(runner, 0)
        out.append(hub.runtime_info.get('eta'))
        runner.iter += 1
    return out


def test_no_eta_until_the_warmup_is_over(monkeypatch):
    got = etas(WarmupIterTimerHook(), monkeypatch)
    assert got[0] is None
    # after iteration 2: 2 s each for the 98 left, not (60 + 2) / 2
    assert got[1:] == [2.0 * (MAX_ITERS - i - 1) for i in (1, 2, 3)]
    # mmengine's own hook promises 31 s per iteration at first
    theirs = etas(IterTimerHook(), monkeypatch)
    assert theirs[1] == pytest.approx(31.0 * (MAX_ITERS - 2))


def test_resumed_run_drops_a_stale_eta_and_warms_up_again(monkeypatch):
    hook = WarmupIterTimerHook(warmup_iters=2)
    MessageHub.get_instance(f'timer-{id(hook)}').update_info('eta', 1e6)
    got = etas(hook, monkeypatch, start_iter=50)
    assert got[:2] == [None, None]
    assert got[2:] == [2.0 * (MAX_ITERS - 52 - 1), 2.0 * (MAX_ITERS - 53 - 1)]
    with pytest.raises(ValueError):
        WarmupIterTimerHook(warmup_iters=-1)


def test_every_run_of_the_tools_gets_it(root):
    cfg = Config(dict(default_hooks=dict(timer=dict(type='IterTimerHook'))))
    add_safety_hooks(cfg)  # an mmdet / mmseg runtime's plain timer
    assert cfg.default_hooks.timer.type == 'mmpretrain.WarmupIterTimerHook'
    runtime = Config.fromfile(f'{root}/configs/_base_/default_runtime.py')
    assert runtime.default_hooks.timer.type == 'WarmupIterTimerHook'
