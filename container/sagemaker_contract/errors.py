"""Errors whose message is meant for the user: the failure file in training, the response body in serving."""

from __future__ import annotations

from typing import Literal

# Who got a rejected request wrong: the caller (malformed body, unsupported type, too large, wrong method)
# or the model (a well-formed request it cannot answer, e.g. a feature count it does not expect).
# The metrics count them apart (ClientErrors, ModelErrors): only the model's rejections may roll back.
ErrorKind = Literal["client", "model"]


class UserError(Exception):
    """A problem with the job's input (configuration, hyperparameters, data), not a fault of this program.

    Training writes the message to /opt/ml/output/failure as the job's failure reason.
    """


class BadRequestError(Exception):
    """A request the server rejects with a 4xx status.

    `message` goes back to the client and may quote the client's data; `log_message` goes to the log and
    must not contain payload content (positions, sizes and kinds only). `headers` are added to the response
    (Allow for 405, Accept-Encoding for an unsupported content coding).
    """

    def __init__(
        self,
        status: int,
        message: str,
        log_message: str | None = None,
        *,
        kind: ErrorKind = "client",
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.log_message = log_message if log_message is not None else message
        self.kind: ErrorKind = kind
        self.headers = headers
