# FasterViT image classifier as the official code builds it: backbone (its
# final BatchNorm is the output norm of the last stage), global average
# pooling, linear head (trunc-normal init), label smoothing 0.1 and
# timm-style Mixup 0.8 / CutMix 1.0 switching (one of the two per batch).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='FasterViT', arch='0', drop_path_rate=0.2),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
    ),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0),
    ]),
)
