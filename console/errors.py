"""The one error type a person can cause.

Every layer raises ConsoleError (or a subclass) for bad input: a playbook that does not
validate, a missing column, an unreachable scorer, a locked trail. The CLI prints the message
on stderr and exits 2; the UI shows it in a notification or modal. Anything else is a bug.

An error about one playbook setting names it twice: in the message for the person, and in
`node` / `key` (e.g. "f_amount", "nodes.f_amount.expr") for the trail's `failed` entries.
"""


class ConsoleError(Exception):
    """A problem the user can fix; the message names the file, key, column or value."""

    def __init__(
        self,
        message: str,
        *,
        problems: list[str] | None = None,
        node: str | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.problems = problems or []
        self.node = node  # the playbook node the problem is about, when there is one
        self.key = key  # the playbook key to fix, when there is one

    def __str__(self) -> str:
        head = self.args[0] if self.args else ""
        if not self.problems:
            return head
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])
