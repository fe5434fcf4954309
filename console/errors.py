"""The one error type a person can cause.

Every layer raises ConsoleError (or a subclass) for bad input: a playbook that does not
validate, a missing column, an unreachable scorer, a locked trail. The CLI prints the message
on stderr and exits 2; the UI shows it in a notification or modal. Anything else is a bug.
"""


class ConsoleError(Exception):
    """A problem the user can fix; the message names the file, key, column or value."""

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []

    def __str__(self) -> str:
        head = self.args[0] if self.args else ""
        if not self.problems:
            return head
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])
