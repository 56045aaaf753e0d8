"""Reading never imports pandas (issue 18 §4): it cost every process 0.3-0.5 s on its first query."""

from __future__ import annotations

import subprocess
import sys

import eventlog

READS = """
import sys, query
uri = sys.argv[1]
query.data(uri, "e", run="*"); query.runs(uri, "e"); query.summary(uri, "e"); query.compare(uri, "e", "loss")
print(sorted(m for m in sys.modules if m == "pandas" or m.startswith("pandas.")))
"""


def test_the_read_path_never_imports_pandas(local_uri: str) -> None:
    # Regression: query.scan.file_schema() built its schema with Schema.empty_table(), which imports pandas.
    with eventlog.open(local_uri) as log, log.experiment("e") as exp:
        exp.log_param("lr", 0.1)
        exp.log_metric("loss", 0.5, step=0)
    printed = subprocess.run([sys.executable, "-c", READS, local_uri], capture_output=True, text=True, check=True, timeout=120)
    assert printed.stdout.strip() == "[]", printed.stderr
