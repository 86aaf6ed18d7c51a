"""``python -m lecturekit``: see :mod:`lecturekit.cli`."""

import sys

from lecturekit.cli import main

sys.exit(main())
