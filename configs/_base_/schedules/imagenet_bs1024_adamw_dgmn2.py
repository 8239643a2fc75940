# The official DGMN2 (DeiT) schedule: AdamW, lr 5e-4 per 512 images (1e-3 at
# 8 x 128), weight decay 0.05 except on norms and biases (timm skips every
# 1-D parameter), 5 warm-up epochs from 1e-6, cosine to 1e-5, 300 epochs,
# mixed precision (torch.cuda.amp with a dynamic loss scale).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=1e-3, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=5,
        end=300),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# lr 5e-4 per 512 images (DeiT's linear scaling rule)
auto_scale_lr = dict(base_batch_size=1024)
