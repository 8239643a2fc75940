# FasterViT-3: the FasterViT-1 recipe with drop path 0.3 and MESA 0.5
# (TRAINING.md), 35 warm-up epochs and MESA from 30 % of the epochs
# (configs/faster_vit_3_224_1k.yaml).
_base_ = ['./fastervit-1_32xb128_in1k.py']
model = dict(
    backbone=dict(arch='3', drop_path_rate=0.3), head=dict(in_channels=1024))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 5e-3,
        by_epoch=True,
        begin=0,
        end=35,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=5e-6,
        by_epoch=True,
        begin=35,
        end=310,
        convert_to_iter_based=True),
]
custom_hooks = [
    dict(h, weight=0.5, start_ratio=0.3) if h['type'] == 'MESAHook' else h
    for h in _base_.custom_hooks
]
if sum(h['type'] == 'MESAHook' for h in custom_hooks) != 1:
    raise ValueError('expected exactly one MESAHook in the inherited '
                     'custom_hooks')
