# MogaNet-T* (80.0 % top-1): MogaNet-T at 256x256 with the refined recipe of
# the lightweight models, DeiT III's 3-Augment in place of RandAugment and
# random erasing. Official: OpenMixup's
# configs/classification/imagenet/moganet/
#     moga_tiny_deit3_sz256_lr2e_3_8xb128_fp16_ep300.py
# with its bases _base_/models/moganet/moga_tiny.py and
# _base_/datasets/imagenet/moga_light_deit3_sz256_8xbs128.py: 8 GPUs x 128,
# AdamW lr 2e-3, wd 0.04, 20 linear warm-up epochs from 1e-6 x lr, cosine
# to 1e-6 per iteration, 300 epochs, fp16 with the gating in fp32, Precise
# BN (8192 samples) every epoch, drop path 0.1, mixup 0.1 / cutmix 1.0,
# label smoothing 0.1 (cross-entropy, not DeiT III's BCE), no EMA, no
# repeated augmentation. Test at crop_pct 0.9 (short edge 284, crop 256).
_base_ = ['./moganet-tiny_8xb128_in1k-256px.py']
# the released weights were trained and are evaluated with the gating in fp32
model = dict(backbone=dict(attn_force_fp32=True))

train_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(
        type='RandomResizedCrop',
        scale=256,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # one of grayscale, solarization (128), Gaussian blur (sigma 0.1-2)
    dict(type='ThreeAugment'),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    optimizer=dict(lr=2e-3, weight_decay=0.04),
    # OpenMixup's paramwise_options: no decay on norms, biases, layer scales
    # and the ElementScale sigmas ('layer_scale', 'scale'); the stem's two
    # BatchNorm weights match none of its patterns ('norm', '(bn|ln|gn)')
    # and are decayed
    paramwise_cfg=dict(
        custom_keys={
            '.scale': dict(decay_mult=0.0),
            'backbone.patch_embeds.0.1.weight': dict(decay_mult=1.0),
            'backbone.patch_embeds.0.4.weight': dict(decay_mult=1.0),
        }),
)
# mmcv's CosineAnnealing(by_epoch=False) with a 20-epoch linear warm-up
# (ratio 1e-6) scales the cosine that starts at iteration 0: the two
# schedulers run together (within 0.005 % of the official curve at 1251
# iterations an epoch)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,
        by_epoch=True,
        begin=0,
        end=20,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=True,
        begin=0,
        end=300,
        convert_to_iter_based=True),
]
custom_hooks = [
    dict(type='ThroughputHook'),
    dict(type='PreciseBNHook', num_samples=8192, interval=1),
]
