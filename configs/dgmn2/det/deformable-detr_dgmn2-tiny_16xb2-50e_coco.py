# Deformable DETR, 50 epochs on COCO, DGMN2-tiny backbone (published box AP 44.4).
# Official: fudan-zvg/DGMN2 deformable_detr/ (the Deformable DETR code base): stages 2-4
# into 4 feature levels, AdamW lr 2e-4 (backbone x0.1, sampling offsets and reference
# points x0.1), weight decay 1e-4, gradient clipping 0.1, lr drop at epoch 40; all of it is
# mmdet's own Deformable DETR config, so only the backbone and the channel mapper differ.
# Pretrained weights: convert the official ImageNet-1K checkpoint first, e.g.
#   python tools/model_converters/dgmn2_to_mogazoo.py \
#       dgmn2_tiny_model.pth work_dirs/pretrained/dgmn2-tiny_in1k.pth
_base_ = ['mmdet::deformable_detr/deformable-detr_r50_16xb2-50e_coco.py']
custom_imports = dict(imports=['mogazoo'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.DGMN2',
        arch='tiny',
        out_indices=(1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/pretrained/dgmn2-tiny_in1k.pth',
            prefix='backbone.')),
    neck=dict(in_channels=[128, 320, 512]),
)
