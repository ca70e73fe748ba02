"""What the benchmark's report says of the Python it ran on
(`bench.runner.interpreter`): its executable, whether libpython is a shared
library, and the optimizations its configure was given."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench import runner


def test_names_the_executable_and_how_libpython_is_linked_as_the_dynamic_linker_says():
    described = runner.interpreter()
    executable, linked = described.split("; ")[:2]
    assert executable == os.path.realpath(sys.executable)
    # The dynamic linker's answer, not the build's Py_ENABLE_SHARED: Debian's
    # python3.11 says 1 (it ships libpython3.11.so for embedding) and has
    # the interpreter linked into the executable.
    needed = subprocess.run(["ldd", executable], capture_output=True, text=True, check=True).stdout
    if "libpython3" in needed:
        assert linked.startswith("libpython shared, /") and "/libpython3" in linked
    else:
        assert linked == "libpython linked into the executable"


def test_lists_the_optimizations_configure_was_given(monkeypatch):
    args = {"CONFIG_ARGS": "'--prefix=/opt/py' '--enable-optimizations' '--with-lto' '--enable-shared'"}
    monkeypatch.setattr(runner.sysconfig, "get_config_var", args.get)
    assert runner.interpreter().endswith("; configured --enable-optimizations --with-lto")
    args["CONFIG_ARGS"] = "'--prefix=/opt/py'"
    assert "configured" not in runner.interpreter()
    del args["CONFIG_ARGS"]  # a build that does not say
    assert "configured" not in runner.interpreter()


def test_says_it_cannot_tell_the_linkage_without_proc(monkeypatch):
    real = Path.read_text

    def read_text(path, *args, **kwargs):
        if str(path) == "/proc/self/maps":
            raise PermissionError(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    assert runner.interpreter().split("; ")[1] == "libpython: ?"
