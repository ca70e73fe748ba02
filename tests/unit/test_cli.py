"""The command line's help reaches what runs behind it."""
import subprocess
import sys
from pathlib import Path

CLI = Path(sys.executable).with_name("seller-standards")


def test_worker_help_lists_fausts_worker_options():
    # `worker` passes its arguments to Faust's own worker command: so does --help.
    shown = subprocess.run([str(CLI), "worker", "--help"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "--loglevel" in shown.stdout and "--web-port" in shown.stdout
