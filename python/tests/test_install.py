"""test_install.py — the package as installed: cmake --install into a temporary prefix, then a fresh
/usr/bin/python3 with PYTHONPATH=PREFIX/lib/python3/dist-packages imports it and finds the installed
libcurvo.so.0 (through its _libpath.py, not the build tree and not an environment variable)."""
import os
import subprocess
import sys

import pytest


def test_installed_package_imports(build_dir, tmp_path):
    prefix = tmp_path / "prefix"
    r = subprocess.run(["cmake", "--install", build_dir, "--prefix", str(prefix)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    site = prefix / "lib" / "python3" / "dist-packages"
    assert (site / "curvo" / "__init__.py").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    code = ("import curvo, numpy as np; m = curvo.Model('dense:3', 2).init(1); "
            "print(curvo.library_path()); print(m.predict(np.ones((1, 2))).shape)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    lib, shape = r.stdout.split("\n")[:2]
    assert os.path.realpath(lib).startswith(os.path.realpath(str(prefix))), lib
    assert lib.endswith("libcurvo.so.0") and shape == "(1, 3)"
