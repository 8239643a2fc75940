# RetinaNet with MogaNet-XT from scratch on the bundled digit scenes (64x64):
# a CPU-sized end-to-end check of the detection path (tools/train.py + COCO mAP).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../../_base_/datasets/digit_scenes_coco.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mogazoo'], allow_failed_imports=False)
model = dict(
    data_preprocessor=dict(mean=[0, 0, 0], std=[255, 255, 255]),
    backbone=dict(
        _delete_=True,
        type='mmpretrain.MogaNet',
        arch='xtiny',
        out_indices=(0, 1, 2, 3)),
    # stride-4 features and 16-pixel anchors for 16-28 pixel digits; 64-wide
    # neck and head (256 on COCO), which would otherwise dominate on a CPU
    neck=dict(
        in_channels=[32, 64, 96, 192],
        out_channels=64,
        start_level=0,
        add_extra_convs='on_input',
        num_outs=5),
    bbox_head=dict(
        num_classes=10,
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        anchor_generator=dict(strides=[4, 8, 16, 32, 64])),
    test_cfg=dict(max_per_img=20),
)
max_epochs = 12
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        eta_min=1e-5),
]
# mogazoo's checks (configs/_base_/default_runtime.py): stop at the first
# NaN/inf loss or grad norm, never save NaN weights (off:
# default_hooks.finite_check.enable=False); checkpoints written atomically
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(
        type='mmpretrain.AtomicCheckpointHook',
        interval=max_epochs,
        max_keep_ckpts=1),
    finite_check=dict(type='mmpretrain.FiniteCheckHook'))
randomness = dict(seed=0)
