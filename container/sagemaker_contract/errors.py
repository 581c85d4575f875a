"""Errors whose message is meant for the user: the failure file in training, the response body in serving."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the job's input (configuration, hyperparameters, data), not a fault of this program.

    Training writes the message to /opt/ml/output/failure as the job's failure reason.
    """


class BadRequestError(Exception):
    """A request the server rejects with a 4xx status.

    `message` goes back to the client; `log_message` goes to the log and must not contain payload values.
    """

    def __init__(self, status: int, message: str, log_message: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.log_message = log_message if log_message is not None else message
