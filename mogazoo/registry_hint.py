"""Say "import mogazoo" when a mogazoo module is built without it.

mogazoo's modules (``MogaNet``, ``FasterViT``, ``DGMN2``, its hooks, heads,
transforms, datasets, optimizers) exist in the OpenMMLab registries only once
``mogazoo`` is imported. Without that, ``MODELS.build(dict(type='MogaNet'))``
fails with mmengine's "MogaNet is not in the mmpretrain::model registry",
which does not say what is missing. :func:`install` wraps
``mmengine.registry.Registry.build`` so that such a ``KeyError`` gets one more
sentence: import mogazoo (or add it to ``custom_imports``), or, when mogazoo
is imported and the name is looked up in another scope (``type='MogaNet'``
in an mmdet config), the scoped name to use. Nothing else changes: a build
that works is not touched, and other errors pass through as they are.

``pip install -e .`` (``tools/setup_env.sh``) and ``pip install .`` put the
one line of :func:`pth_line` into site-packages as
``mogazoo-registry-hint.pth``, so that a bare ``MODELS.build`` in any Python
process of that environment gets the hint too. At start-up that line only
puts a small finder on ``sys.meta_path`` (no import, no file read); when
mmengine's registry module is first imported, the finder loads this file on
its own (standard library only, mogazoo is not imported) and patches
``Registry.build``. A process that never imports mmengine pays one string
comparison per import. ``MOGAZOO_REGISTRY_HINT=0`` turns it off. Importing
mogazoo installs the patch as well (for the scope hint).
"""
import os
import sys

#: The word that marks a message as hinted already.
MARKER = 'mogazoo'
_TARGET = 'mmengine.registry.registry'
_NOT_FOUND = (r'`?(?P<name>[\w./-]+)`? is not in the (?P<where>[\w.:-]+) '
              r'registry')
_REGISTERED = (r'^@\w+\.register_module\((?P<args>[^)]*)\)[ \t]*\n'
               r'(?:@.*\n)*(?:class|def)\s+(?P<name>\w+)')
_names = None


def package_dir() -> str:
    """The folder of the mogazoo package (this file's folder)."""
    return os.path.dirname(os.path.abspath(__file__))


def registered_names() -> dict:
    """The names mogazoo registers, each with the module that does it,
    read from its source: every class or function decorated with
    ``@<REGISTRY>.register_module(...)`` (the ``name=`` given there, else
    its own name). Read once, on the first failed build, without importing
    anything."""
    global _names
    if _names is None:
        import re
        names = {}
        root = package_dir()
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(('.', '_')))
            for file in sorted(files):
                if not file.endswith('.py'):
                    continue
                with open(os.path.join(folder, file), encoding='utf-8') as f:
                    text = f.read()
                if 'register_module(' not in text:
                    continue
                rel = os.path.relpath(
                    os.path.join(folder, file[:-3]), os.path.dirname(root))
                module = rel.replace(os.sep, '.')
                for match in re.finditer(_REGISTERED, text, re.M):
                    given = re.search(r"(?:name\s*=\s*)?['\"]([^'\"]+)['\"]",
                                      match['args'])
                    names[given.group(1) if given else match['name']] = module
        _names = names
    return _names


def _where_registered(name: str) -> list:
    """``scope::registry`` of every mmengine registry that holds ``name``
    (only when mmengine is imported, i.e. when a build failed)."""
    from mmengine import registry as reg_module
    found = []

    def walk(registry):
        if name in registry._module_dict:
            found.append(f'{registry.scope}::{registry.name}')
        for child in registry.children.values():
            walk(child)

    for value in vars(reg_module).values():
        if isinstance(value, reg_module.Registry) and value.parent is None:
            walk(value)
    return sorted(set(found))


def hint_for(message: str) -> str:
    """The sentence to add to a registry ``KeyError`` message, or ``''``
    when the missing name is not a mogazoo module (or the message has its
    hint already)."""
    import re
    match = re.search(_NOT_FOUND, message)
    if match is None or f'import {MARKER}' in message or \
            f'{MARKER} registers' in message:
        return ''
    name = match['name']
    bare = name.rsplit('.', 1)[-1]
    module = registered_names().get(bare)
    if module is None:
        return ''
    if 'mogazoo' not in sys.modules:
        return (f'{bare} is a mogazoo module, registered when mogazoo is '
                f'imported: `import mogazoo` first, or add '
                f"custom_imports=dict(imports=['mogazoo']) to the config.")
    if module not in sys.modules:
        return (f'{bare} is registered by {module}, which `import mogazoo`'
                f' does not import: import it first, or add '
                f"custom_imports=dict(imports=['{module}']) to the config.")
    where = [w for w in _where_registered(bare) if w != match['where']]
    if not where:
        return ''
    scoped = ' or '.join(f"type='{w.split('::')[0]}.{bare}'" for w in where)
    return (f'{MARKER} registers {bare} in {", ".join(where)}, not in '
            f'{match["where"]}: write {scoped} (or build it with that '
            f'default scope).')


def add_hint(exc: KeyError) -> KeyError:
    """Append :func:`hint_for` to the message of ``exc``, in place."""
    if exc.args and isinstance(exc.args[0], str):
        try:
            hint = hint_for(exc.args[0])
        except Exception:  # noqa: BLE001 - a hint must never hide the error
            hint = ''
        if hint:
            exc.args = (f'{exc.args[0]} {hint}', ) + exc.args[1:]
    return exc


def _patch(registry_module) -> None:
    registry_cls = registry_module.Registry
    build = registry_cls.build
    if getattr(build, '_mogazoo_hint', False):
        return

    def build_with_hint(self, *args, **kwargs):
        try:
            return build(self, *args, **kwargs)
        except KeyError as exc:
            add_hint(exc)
            raise

    build_with_hint.__doc__ = build.__doc__
    build_with_hint.__wrapped__ = build
    build_with_hint._mogazoo_hint = True
    registry_cls.build = build_with_hint


class _Loader:
    """Runs the real loader of mmengine's registry module, then patches
    it; every other attribute is the real loader's."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        try:
            _patch(module)
        except Exception:  # noqa: BLE001 - never break importing mmengine
            pass


class _Finder:
    """A ``sys.meta_path`` entry that only waits for mmengine's registry
    module; it removes itself once that is found."""
    _mogazoo_hint = True

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _TARGET:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, 'find_spec', None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader,
                                                       'exec_module'):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


#: What the start-up line runs (with ``os`` and ``sys`` given): a finder
#: that waits for mmengine's registry module, then loads this file by path
#: and hands the import to its :class:`_Finder`.
_BOOT = """\
class MogazooRegistryHint:
    _mogazoo_hint = True

    def find_spec(self, name, path=None, target=None):
        if name != 'mmengine.registry.registry':
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        try:
            from importlib.util import (find_spec, module_from_spec,
                                        spec_from_file_location)
            package = find_spec('mogazoo')
            for folder in package.submodule_search_locations or ():
                file = os.path.join(folder, 'registry_hint.py')
                if os.path.isfile(file):
                    spec = spec_from_file_location('_mogazoo_registry_hint',
                                                   file)
                    module = module_from_spec(spec)
                    spec.loader.exec_module(module)
                    return module._Finder().find_spec(name, path, target)
        except Exception:
            pass
        return None


if not any(getattr(f, '_mogazoo_hint', False) for f in sys.meta_path):
    sys.meta_path.insert(0, MogazooRegistryHint())
"""


def pth_line() -> str:
    """The line of ``mogazoo-registry-hint.pth`` (see the module doc); a
    ``.pth`` line that starts with ``import`` is run by :mod:`site` at
    start-up."""
    return ("import os, sys; os.environ.get('MOGAZOO_REGISTRY_HINT') == '0' "
            f"or exec({_BOOT!r}, {{'os': os, 'sys': sys}})\n")


def install() -> None:
    """Make registry builds of mogazoo names that fail say what to do.

    Idempotent; does nothing with ``MOGAZOO_REGISTRY_HINT=0``. Patches
    ``Registry.build`` now if mmengine's registry is imported already, else
    when it is.
    """
    if os.environ.get('MOGAZOO_REGISTRY_HINT', '1') == '0':
        return
    module = sys.modules.get(_TARGET)
    if module is not None:
        _patch(module)
    elif not any(getattr(f, '_mogazoo_hint', False) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
