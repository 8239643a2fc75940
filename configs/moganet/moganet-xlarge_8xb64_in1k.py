# MogaNet-XL: the MogaNet-S recipe with drop path 0.4, 8 GPUs x 64.
_base_ = ['./moganet-small_8xb128_in1k.py']
model = dict(
    backbone=dict(arch='xlarge', drop_path_rate=0.4),
    head=dict(in_channels=960))
train_dataloader = dict(batch_size=64)
# the official lr 1e-3 is for a total batch of 512
auto_scale_lr = dict(base_batch_size=512)
