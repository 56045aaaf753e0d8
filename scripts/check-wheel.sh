#!/usr/bin/env bash
# `make check-wheel`: build the wheel, install it into a fresh virtual environment, and import the
# three packages from another directory, so that what users install is what we test (and the
# wheel carries no test helpers). Run by .ci/run after `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
work=$(mktemp -d "${TMPDIR:-/tmp}/eventlog-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

.venv/bin/python -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" . 2>"$work/build.log" || { cat "$work/build.log"; exit 1; }
if grep -qi "warning" "$work/build.log"; then
  echo "building the wheel warned:"; cat "$work/build.log"; exit 1
fi
wheel=$(ls "$work"/dist/eventlog-*.whl)
echo "built $(basename "$wheel")"

"$PYTHON" -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$wheel" > "$work/files"
for unwanted in '^tests/' 'testkit' '^benchmarks/' '^examples/'; do
  if grep -q "$unwanted" "$work/files"; then echo "the wheel ships $unwanted:"; grep "$unwanted" "$work/files"; exit 1; fi
done
for wanted in eventlog/core/store.py eventlog/compaction/compactor.py eventlog/cli/app.py ingest/run_writer.py query/scan.py eventlog/py.typed; do
  grep -qx "$wanted" "$work/files" || { echo "the wheel lacks $wanted"; exit 1; }
done
grep -q '^ingest/_hot_path\..*\.so$' "$work/files" || { echo "the wheel lacks log_metric's compiled fast path:"; cat "$work/build.log"; exit 1; }

"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$wheel"
cd "$work"  # not the checkout: the packages must come from the installed wheel
"$work/venv/bin/python" - <<'PY'
import eventlog, ingest, query, eventlog.cli
import pathlib
for module in (eventlog, ingest, query):
    assert "site-packages" in module.__file__, f"{module.__name__} imported from {module.__file__}"
from ingest import hot_path
assert hot_path.COMPILED, "log_metric's compiled fast path was not built into the wheel"
with eventlog.open(str(pathlib.Path("store"))) as log:
    with log.experiment("wheel") as exp:
        exp.log_metric("loss", 0.5, step=1)
    assert query.data("store", "wheel", run="*", event="metric")["value"].to_list() == [0.5]
print("the installed wheel imports eventlog, ingest and query and logs a run")
PY
"$work/venv/bin/eventlog" --store "$work/store" runs wheel --format csv | grep -q completed
echo "the installed 'eventlog' command reads it back"

# The documented set-up for analysts (`make demo` installs the same): the `analysis` extra gives
# omega-ml users the pandas frames and the plots they expect.
"$work/venv/bin/python" -m pip install --quiet "${wheel}[analysis]"
"$work/venv/bin/python" -c "
import eventlog
events = eventlog.open('store').experiment('wheel').data(event='metric')
assert list(events.to_pandas()['value']) == [0.5]
assert events.plot(x='step', y='value').to_dict()['mark']['type'] == 'line'
print('with the analysis extra, exp.data().to_pandas() and exp.data().plot(x=, y=) work')
"
