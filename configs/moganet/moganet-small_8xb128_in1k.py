_base_ = [
    '../_base_/models/moganet/moganet-small.py',
    '../_base_/datasets/imagenet_bs128_moganet_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_moganet.py',
    '../_base_/default_runtime.py',
]
# Official recipe (TRAINING.md): 8 GPUs x 128, AdamW lr 1e-3, wd 0.05,
# RandAugment rand-m9-mstd0.5-inc1, min lr 1e-5, EMA 0.9999.
optim_wrapper = dict(optimizer=dict(weight_decay=0.05))
param_scheduler = _base_.param_scheduler
param_scheduler[1].eta_min = 1e-5
custom_hooks = [
    dict(type='ThroughputHook'),
    dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL'),
]
