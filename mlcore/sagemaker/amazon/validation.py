"""``sagemaker.amazon.validation``: the checks a ``Hyperparameter`` runs on each value set
(v2's: each returns a function that answers True for a valid value)."""

from __future__ import annotations


def gt(minimum):
    return lambda value: value > minimum


def ge(minimum):
    return lambda value: value >= minimum


def lt(maximum):
    return lambda value: value < maximum


def le(maximum):
    return lambda value: value <= maximum


def isin(*expected):
    return lambda value: value in expected


def istype(expected):
    return lambda value: isinstance(value, expected)


__all__ = ["ge", "gt", "isin", "istype", "le", "lt"]
