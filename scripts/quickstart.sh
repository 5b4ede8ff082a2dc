#!/usr/bin/env bash
# Set up the project virtual environment, then run the main job: a local AutoML run on the
# bundled penguins data with SQLite storage. Prints the leaderboard and writes
# runs/<run-id>/result.json and runs/<run-id>/model.skops.
source "$(dirname "$0")/_env.sh"
exec .venv/bin/automl-bridge run examples/quickstart.yaml "$@"
