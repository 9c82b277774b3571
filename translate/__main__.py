"""``python -m translate``: the ``translate`` command (what launchers such as torchrun and
``accelerate launch`` run as ``-m translate run RECIPE``)."""

import sys

from translate.commands.main import main

sys.exit(main())
