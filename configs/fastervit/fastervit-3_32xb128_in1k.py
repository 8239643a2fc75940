# FasterViT-3: the FasterViT-1 recipe with drop path 0.3 and MESA 0.5
# (TRAINING.md), 35 warm-up epochs and MESA from 30 % of the epochs
# (configs/faster_vit_3_224_1k.yaml).
_base_ = ['./fastervit-1_32xb128_in1k.py']
model = dict(
    backbone=dict(arch='3', drop_path_rate=0.3), head=dict(in_channels=1024))
param_scheduler = _base_.param_scheduler
param_scheduler[0].end = 35
param_scheduler[1].begin = 35
custom_hooks = _base_.custom_hooks
custom_hooks[-1].update(weight=0.5, start_ratio=0.3)  # MESAHook
