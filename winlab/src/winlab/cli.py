"""winlab command line (filled in by the winlab issue)."""

import sys


def main(argv=None):
    print("winlab: not implemented yet", file=sys.stderr)
    return 2
