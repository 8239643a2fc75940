# RetinaNet 1x, MogaNet-xtiny backbone.
# Official: Westlake-AI/MogaNet detection/configs/moganet/retinanet_moganet_*_fpn_1x_coco.py.
# Pretrained weights: convert the official ImageNet-1K checkpoint first, e.g.
#   python tools/model_converters/moganet_to_mogazoo.py \
#       moganet_xtiny_sz224_8xbs128_ep300.pth.tar work_dirs/pretrained/moganet-xtiny_in1k.pth
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mogazoo'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.MogaNet',
        arch='xtiny',
        drop_path_rate=0.05,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/pretrained/moganet-xtiny_in1k.pth',
            prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 96, 192]),
)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            'layer_scale': dict(decay_mult=0.),
            'scale': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1, save_best='auto'))
