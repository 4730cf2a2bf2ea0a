import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = REPO / "build" / "collections"

# module_utils are imported as ansible_collections.dojo.kafka_observability...: make that
# importable (build/collections/ansible_collections/dojo/kafka_observability -> this tree, `make deps`)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
