"""novalite-scheduler with ``_selectstats`` installed (``bench_boot.py
--mode multiprocess``): the real binary's ``main()`` otherwise."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _selectstats  # noqa: E402

from novalite.cmd import scheduler  # noqa: E402

if __name__ == "__main__":
    _selectstats.install()
    scheduler.main()
