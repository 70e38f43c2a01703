"""scratch/ is pure NumPy: importing every scratch module must not import torch."""
import pkgutil
import subprocess
import sys

import scratch


def test_importing_every_scratch_module_leaves_torch_out():
    modules = [f"scratch.{m.name}" for m in pkgutil.iter_modules(scratch.__path__)]
    assert len(modules) >= 6, modules
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "leaked = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
            "print(leaked)\n"
            "sys.exit(1 if leaked else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"torch imported by scratch: {result.stdout}{result.stderr}"
