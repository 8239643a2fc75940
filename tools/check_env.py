"""Check that the mogazoo stack is installed and its compiled parts run.

Prints the version of each package (unless ``--quiet``) and exits non-zero
naming the first package that is missing or broken. The OpenMMLab versions it
requires are the pins of requirements/mminstall.txt.
"""
import argparse
import importlib
import os.path as osp
import re
import sys

#: The file that pins the OpenMMLab stack (also read by setup_env.sh).
PIN_FILE = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'requirements',
    'mminstall.txt')
#: Module of each pinned distribution whose name differs.
MODULES = {'mmsegmentation': 'mmseg'}


def read_pins(path=PIN_FILE):
    """``{module: version}`` of the ``name==version`` lines of ``path``, or,
    where it is absent (a copy of the tools in an installed package), of
    mogazoo's ``mim`` extra, which setup.py reads from the same file."""
    if osp.isfile(path):
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    else:
        from importlib.metadata import requires
        lines = [
            r.split(';')[0] for r in requires('mogazoo') or ()
            if 'extra == "mim"' in r
        ]
    pins = {}
    for line in lines:
        match = re.match(r'\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s;#]+)', line)
        if match:
            name = match[1].lower()
            pins[MODULES.get(name, name)] = match[2]
    if not pins:
        raise RuntimeError(f'no name==version pins found in {path}')
    return pins


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--quiet', action='store_true')
    args = parser.parse_args(argv)
    report = {}
    try:
        pins = read_pins()
        import numpy
        import torch
        import torchvision
        report.update(
            python=sys.version.split()[0],
            torch=torch.__version__,
            torchvision=torchvision.__version__,
            numpy=numpy.__version__,
            cuda=torch.cuda.is_available())
        for name, pin in pins.items():
            mod = importlib.import_module(name)
            if mod.__version__ != pin:
                raise RuntimeError(f'{name} {mod.__version__} is installed, '
                                   f'mogazoo needs {pin}')
            report[name] = mod.__version__
        from mmcv.ops import nms
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
        # runs a compiled op from mmcv._ext
        nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
        report['mmcv ops'] = 'ok'
        import mogazoo
        report['mogazoo'] = mogazoo.__version__
    except Exception as exc:  # noqa: BLE001 - report whatever broke, by name
        print(
            f'[check_env] broken environment: {type(exc).__name__}: '
            f'{exc}',
            file=sys.stderr)
        return 1
    if not args.quiet:
        for key, value in report.items():
            print(f'  {key:12s} {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
