# Your own folder of images (ImageFolderDataset): the classes are its class
# folders, and either layout is found by itself:
#   ROOT/train/<class>/*.jpg + ROOT/val/<class>/*.jpg, or
#   ROOT/<class>/*.jpg + ROOT/{train,val,classes}.txt written by
#   python tools/dataset_converters/split_dataset.py ROOT --val-ratio 0.2
# ImageNet statistics and sizes, for fine-tuning ImageNet checkpoints.
# Unreadable training images are skipped with a warning naming them; in
# evaluation they stop the run with their path (split_dataset.py --check
# finds them beforehand).
dataset_type = 'ImageFolderDataset'
data_root = 'data/digits'
data_preprocessor = dict(
    num_classes=10,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)
train_pipeline = [
    dict(type='LoadImageFromFileSafe', skip_corrupt=True),
    dict(
        type='RandomResizedCrop',
        scale=224,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
