"""`python -m jaxl_designer` runs the `jaxl-designer` command."""

import sys

from .cli import main

sys.exit(main())
