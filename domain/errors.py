"""Domain errors: broken invariants, named for what the clinic would say."""


class DomainError(Exception):
    """A command that the domain refuses."""


class PatientErased(DomainError):
    """The patient exercised the right to be forgotten; the record takes no more changes."""


class ConsentNotGiven(DomainError):
    """Withdrawing a consent that is not in force."""


class InvalidValue(DomainError):
    """A value object that cannot exist (empty name, malformed email, birth date in the future)."""
