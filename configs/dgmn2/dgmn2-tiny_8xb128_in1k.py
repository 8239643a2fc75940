_base_ = [
    '../_base_/models/dgmn2/dgmn2_cls.py',
    '../_base_/datasets/imagenet_bs128_deit_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_dgmn2.py',
    '../_base_/default_runtime.py',
]
# Official recipe (classification/main.py defaults, dist_train.sh): 8 GPUs x
# 128, AdamW lr 5e-4 per 512 images, wd 0.05, 300 epochs, 5 warm-up epochs,
# RandAugment m9-mstd0.5, mixup 0.8 / cutmix 1.0, label smoothing 0.1, random
# erasing 0.25, repeated augmentation, AMP, drop path 0.1, switched off for
# the first 100 epochs (main.py's reset_drop_path).
custom_imports = dict(
    imports=['mogazoo', 'mogazoo.models.backbones.dgmn2'],
    allow_failed_imports=False)
model = dict(backbone=dict(arch='tiny', drop_path_rate=0.1))
custom_hooks = [
    dict(type='ThroughputHook'),
    dict(type='DropPathWarmupHook', warmup_epochs=100),
]
