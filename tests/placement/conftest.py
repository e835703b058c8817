from __future__ import annotations

import pytest
from flask import current_app

from placement import services


@pytest.fixture
def settings(app) -> services.Settings:  # noqa: ANN001
    return services.Settings.from_config(current_app.config)
