"""The one exception type for user mistakes: the CLI prints it as one line, no traceback."""


class TinyrnnError(Exception):
    """A problem the user can fix (bad file, bad option, missing tool, silent port)."""
