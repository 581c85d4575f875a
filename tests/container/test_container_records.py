"""One prediction per record: the same rows in every content type and body shape give the same predictions.

Batch transform joins outputs to inputs by position (SplitType Line, BatchStrategy MultiRecord packs as many
`\\n`-terminated records as fit in MaxPayloadInMB), so a body that splits one record in two, or joins two,
must be a 400 naming the line, never a 200 with a different number of predictions (those bodies are rows of
test_container_hostile.py's HOSTILE, record framing).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from lightgbm_gbdt.algorithm import ALGORITHM

from tests.container.conftest import OBJECTIVES, Trained
from tests.container.harness import Server, csv_bytes, make_data, parse_predictions, request_body

CONTENT_TYPES = ("text/csv", "application/json", "application/jsonlines", "application/x-npy")


def _shapes(features: np.ndarray) -> dict[str, tuple[str, bytes]]:
    """Every accepted body shape of the same rows."""
    rows = features.tolist()
    npy_fortran = io.BytesIO()
    np.save(npy_fortran, np.asfortranarray(features.astype(">f8")))
    return {
        **{kind: (kind, request_body(kind, features)) for kind in CONTENT_TYPES},
        "csv crlf, no final newline": ("text/csv", "\r\n".join(",".join(repr(v) for v in r) for r in rows).encode()),
        "json bare array of rows": ("application/json", json.dumps(rows).encode()),
        "json instances of features objects": (
            "application/json",
            json.dumps({"instances": [{"features": r} for r in rows]}).encode(),
        ),
        "jsonlines crlf": ("application/jsonlines", "".join(json.dumps(r) + "\r\n" for r in rows).encode()),
        "npy big-endian fortran order": ("application/x-npy", npy_fortran.getvalue()),
    }


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_the_same_rows_in_every_shape_give_the_same_predictions_row_by_row(
    servers: dict[str, Server], trained: dict[str, Trained], objective: str
) -> None:
    """GIVEN 9 rows WHEN sent in every content type and shape THEN 9 predictions, each the model's for its row."""
    features = trained[objective].test_features[:9]
    expected = ALGORITHM.load(trained[objective].root / "model").predict(features)
    for name, (content_type, body) in _shapes(features).items():
        response = servers[objective].invoke(body, content_type, "application/x-npy")
        assert response.status == 200, (name, response.text)
        got = parse_predictions("application/x-npy", response.body)
        assert got.shape == expected.shape, name
        assert np.allclose(got, expected, rtol=0, atol=1e-9), name


def test_one_row_as_a_bare_json_array(servers: dict[str, Server], trained: dict[str, Trained]) -> None:
    """GIVEN one row as [x1, ..., x5] (what a JSON serializer sends for one row) THEN one prediction."""
    features = trained["regression"].test_features[:1]
    response = servers["regression"].invoke(json.dumps(features[0].tolist()).encode(), "application/json")
    assert response.status == 200, response.text
    expected = ALGORITHM.load(trained["regression"].root / "model").predict(features)
    assert np.allclose(json.loads(response.body)["predictions"], expected, atol=1e-9)


def test_a_batch_transform_multi_record_body_up_to_the_payload_limit(
    servers: dict[str, Server], trained: dict[str, Trained]
) -> None:
    """GIVEN SplitType Line + MultiRecord: as many CSV and JSON Lines records as fit in MaxPayloadInMB (6 MB)
    THEN exactly one prediction per record, in order."""
    _, features = make_data("binary", 160_000, seed=5)
    limit = 6 * 1024 * 1024
    model = ALGORITHM.load(trained["binary"].root / "model")
    for content_type in ("text/csv", "application/jsonlines"):
        records = (
            csv_bytes(None, features).splitlines(keepends=True)
            if content_type == "text/csv"
            else [(json.dumps(row) + "\n").encode() for row in features.tolist()]
        )
        body, count = b"", 0
        sizes = np.cumsum([len(record) for record in records])
        count = int(np.searchsorted(sizes, limit, side="right"))
        body = b"".join(records[:count])
        assert limit - 200 < len(body) <= limit
        response = servers["binary"].invoke(body, content_type, "text/csv")
        assert response.status == 200, response.text[:200]
        got = parse_predictions("text/csv", response.body)
        assert len(got) == count
        # One prediction per record, in order, of the values the records carry (CSV: 6 significant digits; a
        # full-precision value and its rounding may lie on either side of a split threshold). The tolerance:
        # compiled trees and LightGBM's own predict may differ slightly on a value at a split threshold.
        sent = np.loadtxt(records[:count], delimiter=",") if content_type == "text/csv" else features[:count]
        assert np.allclose(got, model.predict(sent), atol=1e-4)
