"""Compare engines in one report: two local strategies and a SageMaker run, side by side.

Run: .venv/bin/python examples/report.py            (about 1 minute; writes report.html)
     .venv/bin/python examples/report.py --quick    (about 30 seconds)

The same spec (churn, ROC-AUC) runs locally with TPE and with regularized evolution, and on
SageMaker Autopilot. No cloud is reachable from here, so the SageMaker run goes through the real
adapter against the offline fakes that its tests use (needs the `aws` extra): the numbers of
that run are the fake's, not Autopilot's. The report scores every engine's best model on the
same held-out rows, with bootstrap confidence intervals of each score and of the differences.
Open report.html in any browser (no server, no network).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from automl_bridge import AutoMLJob
from automl_bridge.reports import compare

HERE = Path(__file__).parent


def sagemaker_run(job: AutoMLJob, train: pd.DataFrame) -> object | None:
    """The same spec on SageMaker Autopilot over the offline fakes (None without boto3).

    ``strict=False``: Autopilot runs its own search and needs a longer cap, so the TPE spec's
    ``search`` and ``time_budget_s`` are approximated, and the report lists both."""
    try:
        from automl_bridge.backends.sagemaker import SageMakerBackend
        from automl_bridge.testing.fakes.sagemaker import ROLE, make_fake_clients
    except ImportError:
        print("SageMaker skipped: pip install 'automl-bridge[aws]'")
        return None
    sm, s3 = make_fake_clients(outcome="completed", n_candidates=6)
    backend = SageMakerBackend(role_arn=ROLE, s3_output="s3://my-bucket/automl/", client=sm,
                               s3_client=s3, sleep=lambda s: None, strict=False)
    return backend.run(job.spec, train)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small budgets (a smoke run)")
    parser.add_argument("-o", "--output", default="report.html", help="report file")
    args = parser.parse_args(argv)
    train = pd.read_csv(HERE / "data" / "churn_train.csv")
    holdout = pd.read_csv(HERE / "data" / "churn_test.csv")
    budget = 8.0 if args.quick else 25.0

    results = []
    jobs = [AutoMLJob(task="classification", target="churn", metric="roc_auc",
                      time_budget_s=budget, search=strategy, seed=0)
            for strategy in ("tpe", "evolution")]
    for job in jobs:
        results.append(job.fit(train))
    cloud = sagemaker_run(jobs[0], train)
    if cloud is not None:
        results.append(cloud)

    report = compare(results, holdout=holdout, title="Churn: local strategies and SageMaker")
    path = report.save(args.output)
    print(report.to_markdown().split("## Leaderboards")[0])
    print(f"Report written to {path}")
    return Path(path)


if __name__ == "__main__":
    main()
