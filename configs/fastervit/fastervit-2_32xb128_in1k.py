# FasterViT-2: the FasterViT-1 recipe with MESA 0.5 (TRAINING.md).
_base_ = ['./fastervit-1_32xb128_in1k.py']
model = dict(
    backbone=dict(arch='2', drop_path_rate=0.2), head=dict(in_channels=768))
custom_hooks = [
    dict(h, weight=0.5) if h['type'] == 'MESAHook' else h
    for h in _base_.custom_hooks
]
if sum(h['type'] == 'MESAHook' for h in custom_hooks) != 1:
    raise ValueError('expected exactly one MESAHook in the inherited '
                     'custom_hooks')
