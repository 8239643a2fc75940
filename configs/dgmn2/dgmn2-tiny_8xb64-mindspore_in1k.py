# DGMN2-T with the MindSpore model-zoo recipe (mindspore/models,
# research/cv/DGMN2, config/dgmn2_tiny_graph_O3.yml): 8 devices x 64, AdamW
# lr 6e-4 (from 0, 5 linear warm-up epochs, cosine to 1e-5 per step), wd 0.05
# except on parameters named *beta* or *bias* (norm shifts and biases; the
# norm scales are decayed), AutoAugment (ImageNet policy), bilinear random
# crops of scale 0.05-1, label smoothing 0.1, mixup 0.2 (no cutmix), AMP with
# a static loss scale of 1024, drop path 0.1, checkpoints every 8 epochs,
# the 3 latest kept.
_base_ = [
    '../_base_/models/dgmn2/dgmn2_cls.py',
    '../_base_/datasets/imagenet_bs128_moganet_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_dgmn2.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(
    imports=['mogazoo', 'mogazoo.models.backbones.dgmn2'],
    allow_failed_imports=False)
model = dict(
    backbone=dict(arch='tiny', drop_path_rate=0.1),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.2)], _delete_=True),
)

bgr_mean = _base_.data_preprocessor['mean'][::-1]
train_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.05, 1.0),
        aspect_ratio_range=(0.75, 1.333),
        backend='pillow',
        interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='AutoAugment',
        policies='imagenet',
        hparams=dict(pad_val=[round(x) for x in bgr_mean])),
    dict(type='PackInputs'),
]
test_pipeline = [  # resize int(224 / 0.875 / 16 + 0.5) * 16 = 256, bilinear
    dict(type='LoadImageFromFileSafe'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='pillow',
        interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale=1024.,
    optimizer=dict(lr=6e-4, weight_decay=0.05),
    paramwise_cfg=dict(
        _delete_=True, custom_keys={'.bias': dict(decay_mult=0.)}),
)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=5,
        end=300,
        convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=512)
default_hooks = dict(
    checkpoint=dict(interval=8, max_keep_ckpts=3, save_best=None))
