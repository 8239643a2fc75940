# UperNet 160k on ADE20K, FasterViT-1 backbone.
_base_ = ['./upernet_fastervit-0_8xb2-160k_ade20k-512x512.py']
model = dict(
    backbone=dict(
        arch='1',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='work_dirs/pretrained/fastervit-1_in1k.pth')),
    decode_head=dict(in_channels=[80, 160, 320, 640]),
    auxiliary_head=dict(in_channels=320),
)
