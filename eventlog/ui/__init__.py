"""The dashboard (`eventlog ui`): runs tables and curves of a store in the browser, live, read only.

```python
import eventlog.ui

eventlog.ui.serve("./.eventlog")                   # http://127.0.0.1:5000/, until Ctrl-C
eventlog.ui.serve("s3://bucket/log", host="0.0.0.0", token="s3cret")   # open it with ?token=s3cret
```

A Starlette app over the query layer (`app`), with the runs table folded once per snapshot
(`runs_view`, filtered by `runs_filter`), curves downsampled on the server keeping every
extreme (`curves`, `downsample`), a run's page (`run_page`) and a plain HTML/JS page drawing with
a vendored uPlot (`static/`). See docs/ui.md.
"""

from __future__ import annotations

from eventlog.ui.app import create_app
from eventlog.ui.downsample import downsample, downsample_indices
from eventlog.ui.server import DEFAULT_PORT, UIThread, serve

__all__ = ["DEFAULT_PORT", "UIThread", "create_app", "downsample", "downsample_indices", "serve"]
