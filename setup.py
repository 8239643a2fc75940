"""mogazoo: MogaNet, FasterViT and DGMN2 for the OpenMMLab ecosystem."""
import os
import os.path as osp
import re
import shutil
import warnings

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))

# `pip install -e .` (setuptools' lenient editable mode, a meta path finder)
# ends with a boxed note that a folder named like the package in the working
# directory may take precedence over it. Here that folder is the package's
# own source, the one the finder points at, so the note asks nothing of the
# user: only this note is silenced, any other warning is shown.
warnings.filterwarnings(
    'ignore',
    message='Editable installation',
    module='setuptools.command.editable_wheel')

#: What a wheel carries in ``mogazoo/.mim`` (as mmpretrain packages its
#: own), so that ``mim search/train/test mogazoo`` and
#: :func:`mogazoo.checkpoint.hub.package_root` find the configs, tools and
#: model index. An editable install reads them from the source tree.
MIM_FILES = ('model-index.yml', 'configs', 'tools')


class BuildPyWithMim(build_py):
    """build_py that also copies :data:`MIM_FILES` into ``mogazoo/.mim``."""

    def run(self):
        super().run()
        mim = osp.join(self.build_lib, 'mogazoo', '.mim')
        ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
        os.makedirs(mim, exist_ok=True)
        for name in MIM_FILES:
            src, dst = osp.join(HERE, name), osp.join(mim, name)
            if osp.isdir(src):
                shutil.copytree(src, dst, ignore=ignore, dirs_exist_ok=True)
            else:
                shutil.copyfile(src, dst)


def get_version():
    with open(osp.join(HERE, 'mogazoo', 'version.py'), encoding='utf-8') as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def parse_requirements(fname):
    """Read a requirements file, following ``-r`` includes."""
    reqs = []
    with open(osp.join(HERE, fname), encoding='utf-8') as f:
        for line in f:
            line = line.split('#')[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(
                    osp.join(osp.dirname(fname), line[3:].strip()))
            else:
                reqs.append(line)
    return reqs


setup(
    name='mogazoo',
    version=get_version(),
    description='MogaNet, FasterViT and DGMN2 backbones for mmpretrain, '
    'mmdetection and mmsegmentation',
    long_description=open(osp.join(HERE, 'README.md'),
                          encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(
        exclude=('configs', 'configs.*', 'tools', 'tools.*', 'tests',
                 'tests.*')),
    python_requires='>=3.9',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require={
        'mim': parse_requirements('requirements/mminstall.txt'),
        'tests': parse_requirements('requirements/tests.txt'),
        'optional': parse_requirements('requirements/optional.txt'),
        'timm': parse_requirements('requirements/timm.txt'),
        'all': parse_requirements('requirements.txt'),
    },
    license='Apache License 2.0',
    license_files=['LICENSE'],
    zip_safe=False,
    cmdclass=dict(build_py=BuildPyWithMim),
)
