from __future__ import annotations

import sys

from jobclusters.cli import main

sys.exit(main())
