"""Run heddle's Python tests (ctest: `python3 python/tests/run.py`): says clearly what is
missing instead of failing on an import deep inside pytest."""
import importlib
import os
import sys

missing = []
for mod, pkg in (("zmq", "python3-zmq"), ("msgpack", "python3-msgpack"), ("pytest", "python3-pytest")):
    try:
        importlib.import_module(mod)
    except ImportError:
        missing.append(pkg)
if missing:
    sys.stderr.write("heddle python tests: %s missing for %s: run scripts/install-deps test\n"
                     % (", ".join(missing), sys.executable))
    sys.exit(1)

import pytest  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))  # python/, for `import heddle`
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", here] + sys.argv[1:]))
