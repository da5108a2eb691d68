import sys
from pathlib import Path

# The demo's steps (scripts/demo/run.py) and the proxy helper are imported by the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
