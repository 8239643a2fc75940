"""Convert an official FasterViT checkpoint to a mogazoo (mmengine) one.

    python tools/model_converters/fastervit_to_mogazoo.py SRC DST [--ema]
        [--trust-file]

SRC is a checkpoint as released by NVlabs/FasterViT (``fastervit_*.pth.tar``:
``state_dict``, ``state_dict_ema``, ``model`` or a bare state dict; a
classifier of ``faster_vit.py``/``faster_vit_any_res.py`` or a detection
backbone of ``downstream/``). DST holds ``backbone.*`` and ``head.*`` keys
that load with ``strict=True`` into the model of the matching
``configs/fastervit/fastervit-<arch>_*_in1k.py`` (a FasterViT-0 checkpoint
also into ``fastervit-0-anyres_*``; one of ``faster_vit_<n>_any_res`` built
for another size into a backbone with ``any_res=True, resolution=(H, W)``,
that size). The derived buffers of the official
model are dropped; a file that also pickles timm's training arguments needs
``--trust-file``.
"""
from mogazoo.checkpoint.converters.common import converter_main
from mogazoo.checkpoint.converters.fastervit import convert_fastervit


def main(argv=None):
    converter_main('fastervit_to_mogazoo', convert_fastervit,
                   __doc__.splitlines()[0], argv)


if __name__ == '__main__':
    main()
