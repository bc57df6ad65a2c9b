"""Named domain errors: one family, so an adapter can map every refusal of the rules in one place."""


class DomainError(Exception):
    """Base of every error raised by the IPE domain (bad facts, not bugs in the adapters)."""


class UnknownMotif(DomainError):
    """A motif code that is not in the catalogue; intake refuses it, so the rules never judge it."""


class SmigNotInForce(DomainError):
    """No SMIG figure is known for the date (it precedes the first entry of the table)."""


class InvalidDeclaration(DomainError):
    """A monthly declaration that no CNSS history can contain (negative days or salary, mid-month period)."""


class CodedError(DomainError):
    """A refusal with a stable machine ``code`` (an API error code, a metric label) besides its message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
