# ImageNet-1K as DeiT's main.py reads it (the official DGMN2 recipe): the
# training pipeline is timm's create_transform, the same as MogaNet's
# (RandomResizedCrop 224 bicubic, flip, RandAugment rand-m9-mstd0.5-inc1,
# random erasing 0.25 in pixel mode); DeiT adds repeated augmentation
# (RASampler, 3 repeats) and tests at short edge 256, centre crop 224.
_base_ = './imagenet_bs128_moganet_224.py'

test_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    sampler=dict(type='RepeatAugSampler', shuffle=True, num_repeats=3))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
