import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# make `tests.support` importable whatever the rootdir/cwd of the pytest run, and the collection
# as ansible_collections.dojo.kafka_observability (build/collections links to this tree: make deps)
for path in (REPO, REPO / "build" / "collections"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
