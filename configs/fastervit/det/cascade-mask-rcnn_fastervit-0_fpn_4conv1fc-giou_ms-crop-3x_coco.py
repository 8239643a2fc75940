# Cascade Mask R-CNN 3x (GIoU 4conv1fc heads, multi-scale with crops), any-resolution
# FasterViT-0 backbone. The FasterViT paper reports Cascade Mask R-CNN 3x on COCO but NVlabs
# publishes no config: this keeps mmdet's Cascade Mask R-CNN 3x recipe (as for Swin and
# ConvNeXt) with AdamW lr 1e-4, weight decay 0.05 and no weight decay on norms and biases.
# Pretrained weights: convert the official checkpoint first, e.g.
#   python tools/model_converters/fastervit_to_mogazoo.py \
#       fastervit_0_224_1k.pth.tar work_dirs/pretrained/fastervit-0_in1k.pth
_base_ = [
    'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py'
]
custom_imports = dict(imports=['mogazoo'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.FasterViT',
        arch='0',
        any_res=True,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/pretrained/fastervit-0_in1k.pth',
            prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 256, 512]),
)
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    optimizer=dict(
        type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1, save_best='auto'))
