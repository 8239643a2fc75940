# Runtime shared by every mogazoo classification config.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mogazoo'], allow_failed_imports=False)

default_hooks = dict(
    # no eta until the first iteration (warm-up, compile) is over
    timer=dict(type='WarmupIterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keep the best and the 3 latest checkpoints; mmengine's CheckpointHook
    # written atomically (temporary file, fsync, rename) and deleting old
    # checkpoints only once the new one is complete
    checkpoint=dict(
        type='AtomicCheckpointHook',
        interval=1,
        max_keep_ckpts=3,
        save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
    # stop at the first NaN/inf loss (or grad norm, with clip_grad) and never
    # save NaN/inf weights; off: default_hooks.finite_check.enable=False
    finite_check=dict(type='FiniteCheckHook'),
    # refuse a checkpoint that does not fit the model (strict when testing
    # or resuming; when fine-tuning, a head that does not fit is dropped)
    checkpoint_fit=dict(type='CheckpointFitHook'),
    # head / data preprocessor num_classes == the dataset's class count
    num_class_check=dict(type='NumClassCheckHook'),
)
# images/s and peak memory in the log every logging interval
custom_hooks = [dict(type='ThroughputHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # 'nccl' with CUDA; tools/train.py switches to 'gloo' on CPU-only machines
    dist_cfg=dict(backend='nccl'),
)

# TensorBoard: in a child config set the visualizer itself (a new top-level
# vis_backends would not reach it: the base's visualizer was built with this
# file's list), e.g.
#   visualizer = dict(vis_backends=[dict(type='LocalVisBackend'),
#                                   dict(type='TensorboardVisBackend')])
# (tested in tests/test_curves.py).
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
