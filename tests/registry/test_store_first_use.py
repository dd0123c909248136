"""The first use of a new sqlite store by several processes at once: every registration
lands (MLflow's table creation and migrations used to collide: ``table ... already exists``,
and one training was lost). Real processes, a real sqlite store, a tiny real bundle."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tiny_bundle import make_bundle

from tradai_strategy.core import tags as tag
from tradai_strategy.registry.client import RegistryClient

NAME = "tradai-first"
#: a child: import everything, say it is ready, wait for "go", register
CHILD = """
import sys, time
from pathlib import Path
from tradai_strategy.registry.bundle_registry import register_bundle
uri, bundle, ready, go = sys.argv[1:]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.01)
register_bundle(bundle, "tradai-first", tracking_uri=uri)
"""


def test_concurrent_first_registrations_on_a_new_store_all_land(tmp_path: Path) -> None:
    """Three processes register into a store that does not exist yet, released together:
    the first one creates and migrates it while the others wait (without the lock, every
    trial lost at least one); every registration becomes a complete version."""
    bundle = make_bundle(tmp_path / "bundle")
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(3)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, uri, str(bundle), str(r), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in ready
    ]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(outs)
    versions = RegistryClient(uri).versions(NAME)
    assert sorted(v.version for v in versions) == ["1", "2", "3"]
    assert all(v.tags.get(tag.MANIFEST) for v in versions)
