"""Run every benchmark and record its results in benchmarks/results/ (make bench).

    BENCH_THREADS=1 .venv/bin/python benchmarks/run.py   # CPU (or NTLIB_DEVICE)

Results go to benchmarks/results/<suite>-<device type>.json, which the
Performance appendix (chapters/a3_performance.ipynb) reads.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import nt  # noqa: E402

SUITES = [("ops", "bench_ops.py"), ("contract", "bench_contract.py"),
          ("blocks", "bench_blocks.py"), ("models", "bench_models.py"),
          ("compile", "bench_compile.py")]

SUITES.append(("notation", "bench_notation.py"))  # issue 24


def main():
    dev = nt.device().type
    status = 0
    for suite, script in SUITES:
        out = HERE / "results" / f"{suite}-{dev}.json"
        print(f"== {script} -> {out.relative_to(HERE.parent)}", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / script), "--out", str(out)])
        status = status or rc
    return status


if __name__ == "__main__":
    raise SystemExit(main())
