"""A rough cost estimate of an Autopilot job from the instance-hours of its candidates' jobs.

The price table holds on-demand list prices in USD per instance-hour for SageMaker training
and processing in us-east-1, compiled on :data:`PRICE_TABLE_DATE` from public price listings
(not fetched live). It is an estimate: other regions, savings plans, spot, storage, the
job's own data-analysis steps that no candidate lists, and price changes are not counted.

Example:
    >>> est = estimate([{"kind": "training", "instance_type": "ml.m5.xlarge",
    ...                  "count": 1, "seconds": 3600}])
    >>> est["usd"], est["price_table_date"]
    (0.23, '2026-11-27')
"""

from __future__ import annotations

from typing import Any

PRICE_TABLE_DATE = "2026-11-27"
#: Candidate step type -> the describe call (and its name argument) that gives its usage.
DESCRIBE_STEP = {
    "AWS::SageMaker::TrainingJob": ("describe_training_job", "TrainingJobName"),
    "AWS::SageMaker::ProcessingJob": ("describe_processing_job", "ProcessingJobName"),
    "AWS::SageMaker::TransformJob": ("describe_transform_job", "TransformJobName"),
}
#: USD per instance-hour, on-demand, us-east-1 (training and processing list prices).
USD_PER_HOUR: dict[str, float] = {
    "ml.t3.medium": 0.05,
    "ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922, "ml.m5.12xlarge": 2.765, "ml.m5.24xlarge": 5.53,
    "ml.c5.xlarge": 0.204, "ml.c5.2xlarge": 0.408, "ml.c5.4xlarge": 0.816,
    "ml.c5.9xlarge": 1.836, "ml.c5.18xlarge": 3.672,
    "ml.g4dn.xlarge": 0.736, "ml.p3.2xlarge": 3.825,
}
NOTE = ("Estimate only: on-demand us-east-1 list prices from a table dated "
        f"{PRICE_TABLE_DATE}, times the instance-hours of the candidates' training, processing "
        "and transform jobs. Not counted: other regions' prices, savings plans, storage, data "
        "transfer, and Autopilot's own analysis jobs that no candidate lists. Check AWS Cost "
        "Explorer for the bill.")


def estimate(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"usd", "basis", "price_table_date", "note", ...}`` for the described jobs.

    Args:
        jobs: one dict per job: ``kind``, ``instance_type``, ``count``, ``seconds``.
    """
    usd = 0.0
    hours = 0.0
    unpriced: set[str] = set()
    for job in jobs:
        inst_hours = float(job.get("seconds") or 0.0) / 3600.0 * int(job.get("count") or 1)
        hours += inst_hours
        price = USD_PER_HOUR.get(str(job.get("instance_type")))
        if price is None:
            unpriced.add(str(job.get("instance_type")))
            continue
        usd += inst_hours * price
    out: dict[str, Any] = {
        "usd": round(usd, 4),
        "basis": f"{hours:.3f} instance-hours over {len(jobs)} SageMaker jobs "
                 "(training/processing/transform) listed by the candidates",
        "price_table_date": PRICE_TABLE_DATE,
        "note": NOTE,
    }
    if unpriced:
        out["unpriced_instance_types"] = sorted(unpriced)
        out["note"] = NOTE + " Instance types missing from the table count as 0: " \
            + ", ".join(sorted(unpriced)) + "."
    return out


def usage(kind: str, desc: dict[str, Any]) -> dict[str, Any]:
    """Instance type, count and billed seconds of a described training/processing/transform
    job."""
    if kind.endswith("TrainingJob"):
        res = desc.get("ResourceConfig") or {}
        seconds = desc.get("BillableTimeInSeconds") or desc.get("TrainingTimeInSeconds") or 0
        return {"kind": "training", "instance_type": res.get("InstanceType"),
                "count": res.get("InstanceCount") or 1, "seconds": seconds}
    if kind.endswith("ProcessingJob"):
        res = (desc.get("ProcessingResources") or {}).get("ClusterConfig") or {}
        start, end = desc.get("ProcessingStartTime"), desc.get("ProcessingEndTime")
    else:
        res = desc.get("TransformResources") or {}
        start, end = desc.get("TransformStartTime"), desc.get("TransformEndTime")
    seconds = (end - start).total_seconds() if start is not None and end is not None else 0
    return {"kind": "processing" if kind.endswith("ProcessingJob") else "transform",
            "instance_type": res.get("InstanceType"), "count": res.get("InstanceCount") or 1,
            "seconds": seconds}
