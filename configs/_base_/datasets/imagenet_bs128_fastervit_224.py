# ImageNet-1K as the official FasterViT recipe reads it (timm train.py with
# configs/faster_vit_*_224_1k.yaml): the timm pipeline of the MogaNet base
# (RandomResizedCrop 224, flip, RandAugment rand-m9-mstd0.5-inc1, random
# erasing 0.25 in pixel mode; timm draws bilinear or bicubic at random, this
# uses bicubic), validated at the official crop_pct 0.875 (short edge 256,
# centre crop 224, bicubic).
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
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
