# DGMN2-Small: the DGMN2-T recipe (the official launcher trains every arch
# with the same arguments).
_base_ = ['./dgmn2-tiny_8xb128_in1k.py']
model = dict(backbone=dict(arch='small', drop_path_rate=0.1))
