# Semantic FPN 80k on ADE20K, MogaNet-xtiny backbone.
# Official: Westlake-AI/MogaNet segmentation/configs/sem_fpn/moganet/fpn_moganet_*_80k_ade20k.py.
# Pretrained weights: convert the official ImageNet-1K checkpoint first, e.g.
#   python tools/model_converters/moganet_to_mogazoo.py \
#       moganet_xtiny_sz224_8xbs128_ep300.pth.tar work_dirs/pretrained/moganet-xtiny_in1k.pth
_base_ = ['mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py']
custom_imports = dict(imports=['mogazoo'], allow_failed_imports=False)

model = dict(
    pretrained=None,  # the base's ResNet-50 weights
    backbone=dict(
        _delete_=True,
        type='mmpretrain.MogaNet',
        arch='xtiny',
        drop_path_rate=0.05,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/pretrained/moganet-xtiny_in1k.pth',
            prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 96, 192]),
)

# 8 GPUs x 4 images (the official doubles mmseg's 4 GPUs: lr x2, 80k iterations)
train_dataloader = dict(batch_size=4)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001))
max_iters = 80000
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False, interval=4000, max_keep_ckpts=1, save_best='mIoU'))
