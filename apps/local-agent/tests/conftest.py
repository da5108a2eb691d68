import sys
from pathlib import Path

# The tests share small factories (agent_helpers.py) and the hostile SQL corpus; with
# --import-mode=importlib the test folder is not on sys.path by itself.
sys.path.insert(0, str(Path(__file__).parent))
