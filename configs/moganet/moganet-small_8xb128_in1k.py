_base_ = [
    '../_base_/models/moganet/moganet-small.py',
    '../_base_/datasets/imagenet_bs128_moganet_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_moganet.py',
    '../_base_/default_runtime.py',
]
# Official recipe (TRAINING.md): 8 GPUs x 128, AdamW lr 1e-3, wd 0.05,
# RandAugment rand-m9-mstd0.5-inc1, min lr 1e-5, EMA 0.9999.
optim_wrapper = dict(optimizer=dict(weight_decay=0.05))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-2,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=5,
        end=300),
]
custom_hooks = [
    dict(type='ThroughputHook'),
    dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL'),
]
