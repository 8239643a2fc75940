# UperNet 160k on ADE20K, MogaNet-xtiny backbone.
# Official: Westlake-AI/MogaNet segmentation/configs/upernet/moganet/upernet_moganet_*_512x512_160k_ade20k.py.
# Pretrained weights: convert the official ImageNet-1K checkpoint first, e.g.
#   python tools/model_converters/moganet_to_mogazoo.py \
#       moganet_xtiny_sz224_8xbs128_ep300.pth.tar work_dirs/pretrained/moganet-xtiny_in1k.pth
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
]
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
    decode_head=dict(in_channels=[32, 64, 96, 192]),
    auxiliary_head=dict(in_channels=96),
)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'layer_scale': dict(decay_mult=0.),
            'scale': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))
# the base's warm-up (1500 iterations from 1e-6) and poly decay (power 1.0) are the official ones
