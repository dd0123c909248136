"""``python -m tradai_strategy``: the container entry point (see :mod:`.entrypoint`)."""

import sys

from tradai_strategy.cli.entrypoint import main

if __name__ == "__main__":
    sys.exit(main())
