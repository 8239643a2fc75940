# MogaNet-XT trained from scratch on the bundled digits (1 process, batch 64):
# the demo of `make demo`. Short AdamW schedule, no mixup.
_base_ = [
    '../_base_/models/moganet/moganet-xtiny.py',
    '../_base_/datasets/digits_bs64_32.py',
    '../_base_/schedules/imagenet_bs1024_adamw_moganet.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(drop_path_rate=0.0),
    head=dict(num_classes=10, topk=(1, 5)),
    train_cfg=dict(_delete_=True),
)
optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=0.03))
max_epochs = 12
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-2,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True),
]
# validated every epoch (seconds on the digits): a curve, not one point
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_epochs))
randomness = dict(seed=0)
auto_scale_lr = dict(base_batch_size=64)
