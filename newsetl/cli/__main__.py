"""`python -m newsetl.cli`: the same as the `newsetl` command."""

import sys

from newsetl.cli.main import main

sys.exit(main())
