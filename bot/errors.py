"""Errors that stop a command before it starts; their message is for the operator as is."""


class CannotStart(Exception):
    """The command can't start; the message says why and what to do."""
