"""The project's own packages must not shadow the libraries they are named like."""

from __future__ import annotations

import constructs

from tests.helpers import ROOT


def test_constructs_is_the_library_not_a_folder_of_ours() -> None:
    assert "site-packages" in constructs.__file__
    assert hasattr(constructs, "Construct")
    assert not (ROOT / "constructs").exists()
