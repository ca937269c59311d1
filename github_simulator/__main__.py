"""`python -m github_simulator`: serve a seeded simulated GitHub (see github_simulator/serve.py)."""

import sys

from github_simulator.serve import main

sys.exit(main())
