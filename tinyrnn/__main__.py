import sys

from tinyrnn.app.cli import main

sys.exit(main())
