import sys
from pathlib import Path

# make `tests.support` importable whatever the rootdir/cwd of the pytest run
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
