# Semantic FPN, 40k iterations on Cityscapes 769x769, DGMN2-tiny backbone
# (published mIoU / ms+flip: 78.09 / 79.40).
# Official: fudan-zvg/DGMN2 segmentation/configs/fpn_dgmn2_*_4x2_769x769_40k_cityscapes.py
# (mmseg 0.x): 4 GPUs x 2 crops, SyncBN in the patch embeddings and the head, AdamW lr 1e-4,
# weight decay 1e-4, poly decay (power 0.9) to 0, sliding-window test (769, stride 513).
# Pretrained weights: convert the official ImageNet-1K checkpoint first, e.g.
#   python tools/model_converters/dgmn2_to_mogazoo.py \
#       dgmn2_tiny_model.pth work_dirs/pretrained/dgmn2-tiny_in1k.pth
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/cityscapes_769x769.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py',
]
custom_imports = dict(imports=['mogazoo'], allow_failed_imports=False)
crop_size = (769, 769)
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmpretrain.DGMN2',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/pretrained/dgmn2-tiny_in1k.pth',
            prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 320, 512]),
    decode_head=dict(align_corners=True),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(513, 513)),
)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.0001))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=40000,
        by_epoch=False)
]
