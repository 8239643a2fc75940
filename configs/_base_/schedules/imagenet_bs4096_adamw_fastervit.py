# The official FasterViT schedule (timm train.py, configs/faster_vit_*.yaml,
# TRAINING.md): AdamW lr 5e-3 for a total batch of 4096 (4 nodes x 8 GPUs x
# 128), betas (0.9, 0.999), eps 1e-8, no weight decay on 1-D parameters
# (biases, norms, layer scales: timm's filter), gradient clipping at norm 5,
# AMP; 20 linear warm-up epochs from lr 1e-6, cosine to 5e-6 at epoch 310,
# then 10 cool-down epochs at 5e-6 (320 in all), stepped every iteration.
# timm's cosine also counts the warm-up epochs, so its lr right after
# warm-up is 4.95e-3 where this one starts the cosine at 5e-3.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=5e-3, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(flat_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0, norm_type=2),
)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 5e-3,
        by_epoch=True,
        begin=0,
        end=20,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=5e-6,
        by_epoch=True,
        begin=20,
        end=310,
        convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=320, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=4096)
