# The freeze-2 fine-tune with DeiT III's 3-Augment: per image one of
# grayscale, solarization or Gaussian blur, then colour jitter 0.3, after the
# crop and the horizontal flip.
_base_ = './moganet-xtiny_ft-freeze2_image-folder.py'
train_pipeline = [
    dict(type='LoadImageFromFileSafe', skip_corrupt=True),
    dict(
        type='RandomResizedCrop',
        scale=224,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ThreeAugment'),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
