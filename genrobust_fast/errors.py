"""The project's exception hierarchy.

Every message states what was received and what to do next; the CLI prints it as one line and
exits non-zero. Library code raises these instead of printing or exiting.
"""


class GenrobustError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class ConfigError(GenrobustError, ValueError):
    """A configuration file or option is invalid (unknown key, wrong type, bad value)."""


class InputError(GenrobustError, ValueError):
    """An argument or input file is invalid (wrong shape, dtype, missing folder, bad format)."""


class DatasetError(GenrobustError):
    """A dataset on disk is missing, partial, or does not match the expected label space."""


class BackendUnavailableError(GenrobustError):
    """A requested backend, extra or device cannot run on this machine."""


class EngineMismatchError(GenrobustError):
    """A cached engine was built for other weights, shapes, precision, GPU or library version."""


class KernelUnavailableError(GenrobustError):
    """GENROBUST_KERNELS=native was asked for but the compiled extension cannot be loaded."""


class JobConflictError(GenrobustError):
    """An output folder holds the results of a different job, or another job is writing it now."""


class OutputWriteError(GenrobustError, OSError):
    """An output could not be written: the disk is full, read-only, denies permission, or a name is too
    long for it (see `genrobust_fast.writefail`). Still an OSError with the errno, so code that tolerates a
    failed optional write (a scan cache on a read-only disk) goes on catching it."""


class DivergedError(GenrobustError):
    """Training produced a non-finite loss (NaN or inf); nothing of that step is kept."""


def one_line_message(exc: GenrobustError) -> str:
    """The error's own message, also when a DataLoader worker raised it: torch re-raises it in the main
    process with the message "Caught DatasetError in DataLoader worker process 0.\nOriginal Traceback ..."
    and the original message only on the traceback's last line."""
    text = str(exc)
    if not text.startswith("Caught ") or "Original Traceback" not in text:
        return text
    cls = type(exc)
    for marker in (f"{cls.__module__}.{cls.__qualname__}: ", f"{cls.__name__}: "):
        at = text.rfind(marker)
        if at >= 0:
            return text[at + len(marker) :].strip()
    return text


class ParityError(GenrobustError, AssertionError):
    """A benchmark's correctness check failed, so nothing was timed (a wrong result is not measured)."""
