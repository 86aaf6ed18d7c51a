"""``python -m lecturekit``: see :mod:`lecturekit.course.cli`."""

import sys

from lecturekit.course.cli import main

sys.exit(main())
