_base_ = [
    '../_base_/models/fastervit/fastervit_cls.py',
    '../_base_/datasets/imagenet_bs128_fastervit_224.py',
    '../_base_/schedules/imagenet_bs4096_adamw_fastervit.py',
    '../_base_/default_runtime.py',
]
# Official recipe (TRAINING.md, whose command-line values override the
# yaml): 4 nodes x 8 GPUs x 128, AdamW lr 5e-3, weight decay 0.005, drop path
# 0.2, EMA 0.9998, AMP, MESA 0.1. The released checkpoint is evaluated at
# crop_pct 0.875 (the test pipeline of the dataset base).
model = dict(
    backbone=dict(arch='0', drop_path_rate=0.2), head=dict(in_channels=512))
optim_wrapper = dict(optimizer=dict(weight_decay=0.005))
custom_hooks = [
    dict(type='ThroughputHook'),
    # timm's ModelEmaV2 (decay 0.9998) averages the buffers too
    dict(
        type='EMAHook',
        momentum=2e-4,
        update_buffers=True,
        priority='ABOVE_NORMAL'),
    # MESA (official train.py --mesa): from 25 % of the epochs on, the EMA
    # model teaches (weight * 50 * KL of the temperature-3 softmaxes)
    dict(type='MESAHook', weight=0.1, start_ratio=0.25),
]
