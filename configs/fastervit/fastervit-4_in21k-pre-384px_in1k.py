# FasterViT-4 pre-trained on ImageNet-21K and fine-tuned on ImageNet-1K at
# 384x384 (official faster_vit_4_21k_384: windows of the arch, no
# hierarchical attention, drop path 0.42). The released checkpoint is
# evaluated with timm's 'squash' crop at crop_pct 1.0: resize to 384x384,
# centre crop 384. The 21K pre-training and 1K fine-tuning recipes are not
# published; training keeps the FasterViT-4 1K recipe at this resolution.
_base_ = ['./fastervit-4_32xb128_in1k.py']
model = dict(
    backbone=dict(arch='4-21k-384', drop_path_rate=0.42),
    head=dict(in_channels=1568))
train_pipeline = [
    dict(t, scale=384) if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline
]
if sum(t['type'] == 'RandomResizedCrop' for t in train_pipeline) != 1:
    raise ValueError('expected exactly one RandomResizedCrop in the '
                     'inherited train_pipeline')
test_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(
        type='Resize',
        scale=(384, 384),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=384),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
