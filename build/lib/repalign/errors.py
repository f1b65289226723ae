"""Exceptions shared by every stage of repalign.

Each error names the thing that is wrong (dataset, file, line, column, model) so
that a user can act on it without reading a traceback.
"""

from __future__ import annotations


class RepalignError(Exception):
    """Base class of every error raised on purpose by repalign."""


class DataError(RepalignError):
    """A data file is missing, corrupted or malformed."""


class UnknownDatasetError(DataError, KeyError):
    """A dataset or file name that the registry does not know."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """A registered file is not on disk and could not (or may not) be downloaded."""


class HashMismatchError(DataError):
    """A file's sha256 differs from the registered one; the file is not used."""


class MalformedDataError(DataError, ValueError):
    """A data file parses but its content breaks the documented format."""


class SchemaError(RepalignError, ValueError):
    """A table lacks a column or has a column of the wrong type."""


class ValidationError(RepalignError, ValueError):
    """An argument or array that violates a documented precondition."""
