"""Short mmengine runs of the configs under configs/custom/ on tiny data,
and the tool scripts under tools/ run in this process."""
import glob
import importlib.util
import os.path as osp
import re
import uuid

from mmengine.hooks import Hook

from mogazoo.engine.runner import build_runner
from mogazoo.utils import load_config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
_TOOLS = {}


def load_tool(path):
    """The tool script at ``path`` (relative to the repository root) as a
    module, loaded from its file: the tools are scripts, not a package, and
    import only ``mogazoo``."""
    if path not in _TOOLS:
        name = 'tool_' + re.sub(r'\W', '_', path)
        spec = importlib.util.spec_from_file_location(name,
                                                      osp.join(ROOT, path))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _TOOLS[path] = module
    return _TOOLS[path]


def tool_exit(path, *argv):
    """Run ``main(argv)`` of the tool script at ``path`` in this process;
    returns its ``SystemExit`` code (the message of a ``sys.exit(msg)``),
    None when it returned."""
    try:
        load_tool(path).main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code
    return None


TRAIN_32 = [
    dict(type='LoadImageFromFileSafe', skip_corrupt=True),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.7, 1.0)),
    dict(type='PackInputs'),
]
TEST_32 = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackInputs'),
]


def tiny_cfg(config,
             data_root,
             work_dir,
             options=None,
             epochs=1,
             batch_size=16,
             samples=(32, 16),
             validate=False):
    """``config`` loaded with ``options``, on the first ``samples`` (train,
    val) images of ``data_root`` at 32x32, one process without data
    workers, ``epochs`` epochs, one checkpoint, validation only if
    ``validate`` (a first evaluation pass costs seconds on a CPU)."""
    cfg = load_config(config, options)
    for name, pipeline, n in (('train_dataloader', TRAIN_32, samples[0]),
                              ('val_dataloader', TEST_32, samples[1]),
                              ('test_dataloader', TEST_32, samples[1])):
        loader = cfg[name]
        loader.update(
            batch_size=batch_size, num_workers=0, persistent_workers=False)
        loader.dataset.update(
            data_root=data_root, pipeline=pipeline, indices=n)
    cfg.train_cfg.update(max_epochs=epochs, val_interval=epochs)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=epochs, save_best=None)
    if not validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'test_{uuid.uuid4().hex[:8]}'
    cfg.launcher = 'none'
    return cfg


class RecordHook(Hook):
    """Copies of the model's state before the first and after the last
    training iteration, and ``fn(runner)`` after every iteration."""
    priority = 'LOWEST'

    def __init__(self, fn=None):
        self.fn, self.before, self.after, self.per_iter = fn, None, None, []

    @staticmethod
    def state(runner):
        return {
            k: v.detach().clone()
            for k, v in runner.model.state_dict().items()
        }

    def before_train(self, runner):
        self.before = self.state(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if self.fn is not None:
            self.per_iter.append(self.fn(runner))

    def after_train(self, runner):
        self.after = self.state(runner)


def train(cfg, fn=None):
    """Train ``cfg`` as tools/train.py does; returns the runner, its
    :class:`RecordHook` and the text of its log."""
    runner = build_runner(cfg)
    record = RecordHook(fn)
    runner.register_hook(record)
    runner.train()
    [log] = glob.glob(osp.join(cfg.work_dir, runner.timestamp, '*.log'))
    with open(log) as f:
        return runner, record, f.read()
