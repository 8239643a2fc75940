# Deformable DETR+ (iterative box refinement, two-stage), 50 epochs on COCO,
# DGMN2-small backbone (published box AP 48.5).
# Official: fudan-zvg/DGMN2 deformable_detr/configs/
#   dgmn2_deformable_detr_plus_iterative_bbox_refinement_plus_plus_two_stage.sh.
# Pretrained weights: convert the official ImageNet-1K checkpoint first, e.g.
#   python tools/model_converters/dgmn2_to_mogazoo.py \
#       dgmn2_small_model.pth work_dirs/pretrained/dgmn2-small_in1k.pth
_base_ = [
    'mmdet::deformable_detr/deformable-detr-refine-twostage_r50_16xb2-50e_coco.py'
]
custom_imports = dict(imports=['mogazoo'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.DGMN2',
        arch='small',
        out_indices=(1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/pretrained/dgmn2-small_in1k.pth',
            prefix='backbone.')),
    neck=dict(in_channels=[128, 320, 512]),
)
