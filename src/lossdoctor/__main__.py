"""``python -m lossdoctor``."""

import sys

from lossdoctor.cli import main

sys.exit(main())
