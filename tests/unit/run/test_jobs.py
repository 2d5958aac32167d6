"""The job process (iadbench.run.jobs) stays light: Snakemake starts one per job, and it only waits for its child."""

import json
import subprocess
import sys

HEAVY = ("torch", "lightning", "anomalib", "pandas", "scipy", "matplotlib", "sklearn", "requests")


def test_the_job_scripts_import_nothing_heavy():
    # What workflow/scripts/train.py, timing.py and evaluate.py import before their child starts.
    code = ("import json, sys\n"
            "import iadbench.core.files, iadbench.run.attempts, iadbench.run.jobs, iadbench.run.script\n"
            f"print(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}} & set({list(HEAVY)!r}))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                       text=True).stdout)
    assert loaded == [], f"a job process imports {loaded}"
