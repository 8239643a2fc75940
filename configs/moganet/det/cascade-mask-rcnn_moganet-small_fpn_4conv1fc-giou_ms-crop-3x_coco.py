# Cascade Mask R-CNN 3x, GIoU 4conv1fc heads, multi-scale with crops, MogaNet-small backbone.
# Official: Westlake-AI/MogaNet detection/configs/moganet/cascade_mask_rcnn_moganet_*_fpn_giou_4conv1f_ms_3x_coco.py.
# Pretrained weights: convert the official ImageNet-1K checkpoint first, e.g.
#   python tools/model_converters/moganet_to_mogazoo.py \
#       moganet_small_sz224_8xbs128_ep300.pth.tar work_dirs/pretrained/moganet-small_in1k.pth
_base_ = [
    'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py'
]
custom_imports = dict(imports=['mogazoo'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.MogaNet',
        arch='small',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/pretrained/moganet-small_in1k.pth',
            prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 320, 512]),
)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            'layer_scale': dict(decay_mult=0.),
            'scale': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))
# the base config's ConvNeXt layer-wise decay and AMP are replaced by the
# official MogaNet optimizer above
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1, save_best='auto'))
