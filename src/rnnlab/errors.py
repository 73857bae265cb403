"""Exception types shared by the library and the command line.

Every error a user can cause (a bad file, an unknown name, an impossible budget) is a
``UserInputError``: the CLI prints its message and exits with code 2, without a traceback.
It subclasses ``ValueError`` so Python callers can catch it the usual way.
"""


class RnnlabError(Exception):
    """Base class of rnnlab's own errors."""


class UserInputError(RnnlabError, ValueError):
    """Invalid input from the user: the message says what was expected and what was given."""
