# FasterViT-1: the FasterViT-0 recipe with MESA 0.2 (TRAINING.md); the
# released checkpoint is evaluated at crop_pct 1.0 (short edge 224).
_base_ = ['./fastervit-0_32xb128_in1k.py']
model = dict(
    backbone=dict(arch='1', drop_path_rate=0.2), head=dict(in_channels=640))
test_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(
        type='ResizeEdge',
        scale=224,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
custom_hooks = [
    dict(h, weight=0.2) if h['type'] == 'MESAHook' else h
    for h in _base_.custom_hooks
]
if sum(h['type'] == 'MESAHook' for h in custom_hooks) != 1:
    raise ValueError('expected exactly one MESAHook in the inherited '
                     'custom_hooks')
