import sys

from edgemnist.cli import main

sys.exit(main())
