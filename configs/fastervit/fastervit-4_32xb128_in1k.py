# FasterViT-4: the FasterViT-1 recipe with LAMB (lr 5e-3, eps 1e-8, betas
# (0.9, 0.999), its own gradient-norm clipping at 1 as in timm), weight decay
# 0.12, drop path 0.3 and MESA 5.0 (TRAINING.md).
_base_ = ['./fastervit-1_32xb128_in1k.py']
model = dict(
    backbone=dict(arch='4', drop_path_rate=0.3), head=dict(in_channels=1568))
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='Lamb',
        lr=5e-3,
        weight_decay=0.12,
        eps=1e-8,
        betas=(0.9, 0.999)))
custom_hooks = [
    dict(h, weight=5.0) if h['type'] == 'MESAHook' else h
    for h in _base_.custom_hooks
]
if sum(h['type'] == 'MESAHook' for h in custom_hooks) != 1:
    raise ValueError('expected exactly one MESAHook in the inherited '
                     'custom_hooks')
