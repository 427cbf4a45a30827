"""政务公开助手 — the web app: `python app.py [flags]`, the same as `assistant serve [flags]`.

    python app.py                                  # http://127.0.0.1:7860
    python app.py --host 0.0.0.0 --port 8080       # accounts: `assistant users add NAME --role admin`

Settings come from assistant/config.py (defaults, then ASSISTANT_* environment variables, then these
flags; `python app.py --help` lists them). The index is built or refreshed at start, then the app is served.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `python app.py` from anywhere

from assistant.app.serve import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
