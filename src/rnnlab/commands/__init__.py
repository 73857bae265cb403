"""Subcommands of the ``rnnlab`` CLI, one module each (see :mod:`rnnlab.cli`)."""


def count_or_auto(flag: str, text: str) -> int | None:
    """``--workers``/``--threads`` values: None for ``auto``, else an integer >= 1 (a
    UserInputError naming ``flag`` otherwise)."""
    from rnnlab.errors import UserInputError

    if text == "auto":
        return None
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise UserInputError(f"{flag} must be 'auto' or an integer >= 1, got {text!r}")
    return count
