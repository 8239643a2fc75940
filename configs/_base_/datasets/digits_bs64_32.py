# The bundled UCI digits (tools/dataset_converters/prepare_digits.py):
# 8x8 grey images upsampled to 32x32, 10 classes read from the folder names.
# An image that does not load stops the run with its path (a broken copy of
# the data: run prepare_digits.py again); tools/train.py --check finds every
# such file before training starts.
dataset_type = 'CustomDataset'
data_root = 'data/digits'
# The class folders' names, also known without the data (inference by name).
metainfo = dict(classes=tuple(str(i) for i in range(10)))
data_preprocessor = dict(
    num_classes=10,
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    to_rgb=True,
)
train_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(
        type='RandomResizedCrop',
        scale=32,
        crop_ratio_range=(0.7, 1.0),
        aspect_ratio_range=(0.8, 1.25),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(
        type='Resize',
        scale=(32, 32),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='train',
        metainfo=metainfo,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='val',
        metainfo=metainfo,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
