"""pytest settings for running notebooks with nbval (see README, "Testing")."""

from __future__ import annotations

import os

# Seconds nbval waits for each output message after a cell finishes (its default of 5 s is
# too short for cells that train a model or draw a large figure; nbval issue 231).
OUTPUT_TIMEOUT_SECONDS = 120


def pytest_configure(config):
    # Plots render to PNG without a screen.
    os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.output_timeout = OUTPUT_TIMEOUT_SECONDS
            # stderr carries TensorFlow's C++ log lines under Jupyter but not under pytest;
            # it is never compared (the lint test keeps warnings out of stored outputs).
            item.parent.skip_compare = tuple(item.parent.skip_compare) + ("stderr",)
