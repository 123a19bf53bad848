"""``python -m verkstad`` is the ``verkstad`` command."""

from verkstad.cli import main

main()
