# Any-resolution FasterViT-0 (official faster_vit_0_any_res, README example):
# windows 7/7/12/6, carrier tokens 2x2 per window, 576x960 (H x W) inputs.
# The carrier-token layers exist whatever the input size and the number of
# carrier tokens follows the input, so the converted FasterViT-0 (224)
# checkpoint loads strictly (load_from) and the same backbone serves other
# sizes, e.g. in mmdet/mmseg. (A checkpoint of the official
# faster_vit_0_any_res built for 576x960 has no hat_pos_embed: it loads with
# resolution=(576, 960) added to the backbone; see README.)
# There is no official recipe at this size: this
# keeps the FasterViT-0 recipe with 32 images per GPU (lr 5e-3 is for a total
# batch of 4096; use --auto-scale-lr) and squashes images to 576x960.
_base_ = ['./fastervit-0_32xb128_in1k.py']
model = dict(
    backbone=dict(
        arch='0', any_res=True, window_sizes=[7, 7, 12, 6], ct_size=2))
train_pipeline = [  # RandomResizedCrop scale (H, W)
    dict(t, scale=(576, 960)) if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline
]
if sum(t['type'] == 'RandomResizedCrop' for t in train_pipeline) != 1:
    raise ValueError('expected exactly one RandomResizedCrop in the '
                     'inherited train_pipeline')
test_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(
        type='Resize',
        scale=(960, 576),
        backend='pillow',
        interpolation='bicubic'),  # (W, H)
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(batch_size=32, dataset=dict(pipeline=test_pipeline))
