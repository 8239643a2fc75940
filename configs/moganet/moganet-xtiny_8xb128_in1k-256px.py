# MogaNet-XT at 256x256: the 224 recipe (AdamW lr 1e-3 at 8 x 128, wd 0.03,
# drop path 0.05, RandAugment m7, mixup 0.1 / cutmix 1.0, AMP, 300 epochs)
# on 256 crops, tested at crop_pct 0.9 as the official train.py does with
# --img_size 256: short edge floor(256 / 0.9) = 284, centre crop 256.
# TRAINING.md changes only --img_size for 256 (its MogaNet-T command);
# OpenMixup's moga_xtiny_sz256_8xb128_fp16_ep300.py is the same recipe.
_base_ = ['./moganet-xtiny_8xb128_in1k.py']
train_pipeline = [
    dict(t, scale=256) if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline
]
if sum(t['type'] == 'RandomResizedCrop' for t in train_pipeline) != 1:
    raise ValueError('expected exactly one RandomResizedCrop in the '
                     'inherited train_pipeline')
test_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(
        type='ResizeEdge',
        scale=284,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=256),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
