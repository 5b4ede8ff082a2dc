"""An in-memory Azure ML workspace behind an azure-core transport, for offline tests.

Pass ``transport=fake`` and ``credential=fake.credential()`` to ``MLClient`` (or to the azure
backend): the real ``azure-ai-ml`` and ``azure-storage-blob`` code builds and sends every
request, with its own serialization, retry policy and error mapping, and :class:`FakeAzureML`
answers from memory: jobs (create, get with a scripted state sequence, list, cancel as a
long-running operation), the AutoML child runs and tags of a finished job, the default
datastore and its blob container, run details with a failure's error, and compute clusters.

It records what happened (``created``, ``cancelled``, ``uploads``, ``calls``), can fail chosen
requests with an HTTP status (``fail()``: 429/503 with or without ``Retry-After``, 400, 401,
404, ...) and can raise :class:`KeyboardInterrupt` at the k-th request (``interrupt_at``).
Nothing here imports the SDK until a request is answered.

Example:
    >>> fake = FakeAzureML()
    >>> fake.add_job("ab-1", script=("Running", "Completed"))["name"]
    'ab-1'
    >>> fake.next_status("ab-1"), fake.next_status("ab-1"), fake.next_status("ab-1")
    ('Running', 'Completed', 'Completed')
"""

from __future__ import annotations

import io
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

ARM = "https://management.azure.com"
#: The trials a finished fake job reports (algorithm, preprocessor, primary score, fit s).
DEFAULT_TRIALS: tuple[dict[str, Any], ...] = (
    {"algorithm": "LightGBM", "preprocessor": "MaxAbsScaler", "score": 0.91, "fit_time": 1.5,
     "metrics": {"accuracy": 0.88, "AUC_weighted": 0.91, "AUC_macro": 0.91,
                 "balanced_accuracy": 0.86, "log_loss": 0.31}},
    {"algorithm": "RandomForest", "preprocessor": "StandardScalerWrapper", "score": 0.89,
     "fit_time": 2.0, "metrics": {"accuracy": 0.86, "AUC_weighted": 0.89, "AUC_macro": 0.89,
                                  "balanced_accuracy": 0.84, "log_loss": 0.35}},
    {"algorithm": "VotingEnsemble", "preprocessor": "", "score": 0.93, "fit_time": 4.0,
     "metrics": {"accuracy": 0.9, "AUC_weighted": 0.93, "AUC_macro": 0.93,
                 "balanced_accuracy": 0.88, "log_loss": 0.28}},
)
_T0 = "2026-01-01T00:00:00Z"
_T_END = "2026-01-01T00:30:00Z"


@dataclass
class Fault:
    """An injected HTTP failure: the next ``times`` matching requests get ``status``."""

    status: int
    times: int = 1
    method: str | None = None
    contains: str | None = None
    retry_after: str | None = None
    code: str = "Error"
    message: str = "injected failure"
    hits: int = field(default=0)

    def matches(self, method: str, url: str) -> bool:
        return (self.hits < self.times and (self.method is None or self.method == method)
                and (self.contains is None or self.contains in url))


class FakeCredential:
    """A TokenCredential that hands out a dummy token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("fake-token", int(time.time()) + 3600)


class FakeAzureML:
    """An in-memory Azure ML workspace (see the module docstring).

    Args:
        script: states a job reports, one per GET of the job (the last repeats).
        cancel_script: states after a cancel request (the last repeats).
        trials: the child runs of a completed job (see :data:`DEFAULT_TRIALS`).
        failure_message: the error message of a job that ends ``Failed``.
        interrupt_at: the k-th request (1-based) raises KeyboardInterrupt before it is served.
        vm_size / max_nodes: the compute cluster every ``computes/<name>`` GET describes.
    """

    def __init__(self, *, subscription_id: str = "00000000-0000-0000-0000-000000000000",
                 resource_group: str = "rg1", workspace: str = "ws1", region: str = "eastus",
                 script: tuple[str, ...] = ("NotStarted", "Running", "Completed"),
                 cancel_script: tuple[str, ...] = ("CancelRequested", "Canceled"),
                 trials: tuple[dict[str, Any], ...] = DEFAULT_TRIALS,
                 failure_message: str = "AutoML trial failed: out of memory",
                 interrupt_at: int | None = None, vm_size: str = "STANDARD_DS3_V2",
                 max_nodes: int = 4) -> None:
        self.subscription_id, self.resource_group, self.workspace = (
            subscription_id, resource_group, workspace)
        self.region = region
        self.script, self.cancel_script = tuple(script), tuple(cancel_script)
        self.trials = tuple(trials)
        self.failure_message = failure_message
        self.interrupt_at = interrupt_at
        self.vm_size, self.max_nodes = vm_size, max_nodes
        self.jobs: dict[str, dict[str, Any]] = {}
        self.children: dict[str, list[dict[str, Any]]] = {}
        self.blobs: dict[str, bytes] = {}
        self.created: list[str] = []
        self.cancelled: list[str] = []
        self.uploads: list[str] = []
        self.calls: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self._pending: dict[str, list[str]] = {}
        self._blocks: dict[str, bytes] = {}

    # --- set-up ------------------------------------------------------------------------------

    @property
    def ws_path(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}")

    def credential(self) -> FakeCredential:
        """A credential for ``MLClient(credential=...)``."""
        return FakeCredential()

    def backend(self, **options: Any) -> Any:
        """An :class:`~automl_bridge.backends.azure.AzureBackend` wired to this fake: its
        transport and credential, no retry backoff, the fake's child metrics, polling without
        sleeping, and a compute cluster unless serverless options are given."""
        from automl_bridge.backends.azure import AzureBackend

        base: dict[str, Any] = {
            "subscription_id": self.subscription_id, "resource_group": self.resource_group,
            "workspace": self.workspace, "credential": self.credential(), "transport": self,
            "retry_backoff_factor": 0, "metrics_reader": self.metrics_reader,
            "sleep": lambda s: None}
        if not {"compute", "instance_type", "instance_count"} & set(options):
            base["compute"] = "cpu-cluster"
        return AzureBackend(**{**base, **options})

    def fail(self, status: int, **kwargs: Any) -> Fault:
        """Fail matching requests (``times``, ``method``, ``contains``, ``retry_after``,
        ``code``, ``message``) with ``status``."""
        fault = Fault(status=status, **kwargs)
        self.faults.append(fault)
        return fault

    def add_job(self, name: str, *, status: str = "Running", tags: dict[str, str] | None = None,
                script: tuple[str, ...] | None = None) -> dict[str, Any]:
        """Put a job in the workspace (as if created earlier, e.g. by another process)."""
        body = {"name": name, "id": f"{self.ws_path}/jobs/{name}",
                "type": "Microsoft.MachineLearningServices/workspaces/jobs",
                "systemData": {"createdAt": _T0, "lastModifiedAt": _T0},
                "properties": {"jobType": "AutoML", "status": status, "tags": dict(tags or {}),
                               "properties": {}, "experimentName": "automl-bridge",
                               "taskDetails": {"taskType": "Classification",
                                               "targetColumnName": "y",
                                               "trainingData": {"uri": "azureml:d:1",
                                                                "jobInputType": "mltable"}}}}
        self.jobs[name] = body
        self._pending[name] = list(script) if script else [status]
        return body

    def next_status(self, name: str) -> str:
        """Advance a job one step along its script and return its state."""
        seq = self._pending.setdefault(name, list(self.script))
        state = seq.pop(0) if len(seq) > 1 else seq[0]
        job = self.jobs[name]
        job["properties"]["status"] = state
        if state in ("Completed", "Failed", "Canceled"):
            job["systemData"]["lastModifiedAt"] = _T_END
        if state == "Completed":
            self._complete(name)
        return state

    def metrics_reader(self, job_name: str, child_names: list[str]) -> dict[str, dict[str, float]]:
        """What the MLflow reader would return: each child run's logged metrics."""
        out: dict[str, dict[str, float]] = {}
        for i, trial in enumerate(self.trials):
            child = f"{job_name}_{i}"
            if child in child_names and trial.get("metrics"):
                out[child] = dict(trial["metrics"])
        return out

    def _complete(self, name: str) -> None:
        job = self.jobs[name]
        trials = self.trials
        if not trials or name in self.children:
            return
        scores = [t["score"] for t in trials if t.get("status", "Completed") == "Completed"]
        best = max(range(len(trials)), key=lambda i: trials[i]["score"]) if scores else None
        tags = job["properties"].setdefault("tags", {})
        tags.update({
            "iteration_000": ";".join(str(i) for i in range(len(trials))),
            "run_algorithm_000": ";".join(t["algorithm"] for t in trials),
            "run_preprocessor_000": ";".join(t.get("preprocessor", "") for t in trials),
            "score_000": ";".join(str(t["score"]) for t in trials),
            "fit_time_000": ";".join(str(t.get("fit_time", 0)) for t in trials),
        })
        if best is not None:
            tags["automl_best_child_run_id"] = f"{name}_{best}"
        job["properties"].setdefault("properties", {})["primary_metric"] = "AUC_weighted"
        kids = [_run(f"{name}_setup", name, "Completed", {})]
        for i, t in enumerate(trials):
            kids.append(_run(f"{name}_{i}", name, t.get("status", "Completed"), {
                "iteration": str(i), "run_template": "automl_child",
                "run_algorithm": t["algorithm"], "run_preprocessor": t.get("preprocessor", ""),
                "score": str(t["score"])}))
        self.children[name] = kids

    # --- the transport -----------------------------------------------------------------------

    def __enter__(self) -> FakeAzureML:
        return self

    def __exit__(self, *args: Any) -> None:
        return None

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def send(self, request: Any, **kwargs: Any) -> Any:
        """Answer one request (azure-core transport protocol)."""
        method, url = request.method.upper(), request.url
        self.calls.append((method, url))
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt(f"injected at request {self.interrupt_at}")
        for fault in self.faults:
            if fault.matches(method, url):
                fault.hits += 1
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return _response(request, fault.status, {"error": {
                    "code": fault.code, "message": fault.message}}, headers)
        status, body, headers = self._route(method, url, request)
        return _response(request, status, body, headers)

    def _route(self, method: str, url: str,
               request: Any) -> tuple[int, Any, dict[str, str]]:
        parsed = urlparse(url)
        path = unquote(parsed.path)
        if parsed.netloc.endswith(".blob.core.windows.net"):
            return self._blob(method, path, parse_qs(parsed.query), request)
        ws = self.ws_path
        m = re.search(rf"{re.escape(ws)}/jobs/([^/]+)(/cancel)?$", path)
        if m and method == "PUT":
            return self._create(m.group(1), json.loads(_body(request) or b"{}"))
        if m and method == "GET":
            if m.group(1) not in self.jobs:
                return 404, _err("UserError", f"Job {m.group(1)} not found"), {}
            self.next_status(m.group(1))
            return 200, self.jobs[m.group(1)], {}
        if m and method == "POST":
            return self._cancel(m.group(1))
        if path.endswith("/operations/cancel-op"):
            return 200, None, {}
        if path == f"{ws}/jobs" and method == "GET":
            tag = next(iter(parse_qs(parsed.query).get("tag") or []), None)
            return 200, {"value": [j for j in self.jobs.values() if tag is None
                                   or tag in (j["properties"].get("tags") or {})]}, {}
        if path == ws:
            return 200, {"id": ws, "name": self.workspace, "location": self.region,
                         "type": "Microsoft.MachineLearningServices/workspaces",
                         "properties": {"discoveryUrl": f"https://{self.region}.api.azureml.ms"
                                                        "/discovery",
                                        "mlFlowTrackingUri": f"azureml://{self.region}.api."
                                                             f"azureml.ms/mlflow/v1.0{ws}"}}, {}
        if path.endswith("/discovery"):
            api = f"https://{self.region}.api.azureml.ms"
            return 200, {"api": api, "history": api, "experimentation": api}, {}
        m = re.search(r"/runs/([^/]+)/(children|details)$", path)
        if m and m.group(2) == "children":
            return 200, {"value": self.children.get(m.group(1), []), "nextLink": None}, {}
        if m:
            return self._details(m.group(1))
        if path.startswith(f"{ws}/datastores"):
            return self._datastore(method, path, parse_qs(parsed.query))
        m = re.search(rf"{re.escape(ws)}/computes/([^/]+)$", path)
        if m:
            return 200, self._compute(m.group(1)), {}
        return 404, _err("NotFound", f"the fake does not serve {method} {path}"), {}

    def _create(self, name: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if name in self.jobs:
            return 409, _err("UserError", f"A job named {name} already exists."), {}
        body.update(name=name, id=f"{self.ws_path}/jobs/{name}",
                    type="Microsoft.MachineLearningServices/workspaces/jobs",
                    systemData={"createdAt": _T0, "lastModifiedAt": _T0})
        body["properties"]["status"] = self.script[0]
        self.jobs[name] = body
        self._pending[name] = list(self.script)
        self.created.append(name)
        return 201, body, {}

    def _cancel(self, name: str) -> tuple[int, Any, dict[str, str]]:
        job = self.jobs.get(name)
        if job is None:
            return 404, _err("UserError", f"Job {name} not found"), {}
        state = job["properties"]["status"]
        if state in ("Completed", "Failed", "Canceled", "NotResponding", "Paused"):
            return 400, _err("UserError", f"Cannot cancel job {name}: it is {state}."), {}
        self.cancelled.append(name)
        self._pending[name] = list(self.cancel_script)
        job["properties"]["status"] = self.cancel_script[0]
        return 202, None, {"Location": f"{ARM}{self.ws_path}/operations/cancel-op"}

    def _details(self, name: str) -> tuple[int, Any, dict[str, str]]:
        job = self.jobs.get(name)
        status = job["properties"]["status"] if job else "Unknown"
        body: dict[str, Any] = {"runId": name, "status": status}
        if status == "Failed":
            body["error"] = {"error": {"code": "UserError", "message": self.failure_message}}
        return 200, body, {}

    def _datastore(self, method: str, path: str,
                   query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        store = {"id": f"{self.ws_path}/datastores/workspaceblobstore",
                 "name": "workspaceblobstore",
                 "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                 "properties": {"datastoreType": "AzureBlob", "accountName": "fakestorage",
                                "containerName": "azureml-blobstore-fake",
                                "endpoint": "core.windows.net", "protocol": "https",
                                "isDefault": True,
                                "credentials": {"credentialsType": "AccountKey"}}}
        if path.endswith("/listSecrets"):
            return 200, {"secretsType": "AccountKey", "key": "ZmFrZS1hY2NvdW50LWtleQ=="}, {}
        if path.endswith("/datastores"):
            return 200, {"value": [store]}, {}
        if path.endswith("/datastores/workspaceblobstore"):
            return 200, store, {}
        return 404, _err("UserError", "datastore not found"), {}

    def _compute(self, name: str) -> dict[str, Any]:
        return {"id": f"{self.ws_path}/computes/{name}", "name": name, "location": self.region,
                "type": "Microsoft.MachineLearningServices/workspaces/computes",
                "properties": {"computeType": "AmlCompute", "provisioningState": "Succeeded",
                               "properties": {"vmSize": self.vm_size, "vmPriority": "Dedicated",
                                              "scaleSettings": {
                                                  "maxNodeCount": self.max_nodes,
                                                  "minNodeCount": 0,
                                                  "nodeIdleTimeBeforeScaleDown": "PT120S"}}}}

    def _blob(self, method: str, path: str, query: dict[str, list[str]],
              request: Any) -> tuple[int, Any, dict[str, str]]:
        key = path.lstrip("/")
        comp = (query.get("comp") or [""])[0]
        if method == "PUT" and comp == "block":
            self._blocks[key + "#" + query["blockid"][0]] = _body(request)
            return 201, None, {}
        if method == "PUT" and comp == "blocklist":
            ids = re.findall(r"<(?:Latest|Uncommitted|Committed)>([^<]+)<", _body(request).decode())
            self.blobs[key] = b"".join(self._blocks.pop(key + "#" + i, b"") for i in ids)
            self.uploads.append(key)
            return 201, None, {"ETag": '"0x1"'}
        if method == "PUT":
            self.blobs[key] = _body(request)
            self.uploads.append(key)
            return 201, None, {"ETag": '"0x1"'}
        if method in ("HEAD", "GET") and key in self.blobs:
            return 200, None, {"Content-Length": str(len(self.blobs[key])),
                               "x-ms-blob-type": "BlockBlob"}
        return 404, None, {"x-ms-error-code": "BlobNotFound"}


def _run(run_id: str, parent: str, status: str, props: dict[str, str]) -> dict[str, Any]:
    return {"runId": run_id, "parentRunId": parent, "rootRunId": parent, "status": status,
            "experimentId": "exp-1", "createdUtc": _T0, "lastModifiedUtc": _T_END,
            "startTimeUtc": _T0, "endTimeUtc": _T_END, "properties": props, "tags": {}}


def _err(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _body(request: Any) -> bytes:
    data: Any = getattr(request, "content", None)
    if data is None:
        data = getattr(request, "data", None) or getattr(request, "body", None)
    if hasattr(data, "read"):
        data = data.read()
    if data is None:
        return b""
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    return b"".join(bytes(c) for c in data)  # a generator of chunks


def _response(request: Any, status: int, body: Any, headers: dict[str, str]) -> Any:
    """A response shaped like what azure-core's requests transport returns for ``request``."""
    import requests
    import urllib3
    from azure.core.rest import HttpRequest as RestRequest

    raw = requests.Response()
    raw.status_code = status
    raw.reason = "OK" if status < 400 else "Error"
    content = b"" if body is None else json.dumps(body).encode()
    raw.raw = urllib3.HTTPResponse(body=io.BytesIO(content), preload_content=False,
                                   status=status)
    ctype = {"content-type": "application/json"} if body is not None else {}
    raw.headers.update({**ctype, "Content-Length": str(len(content)),
                        "x-ms-request-id": "fake", **headers})
    if request.method.upper() == "HEAD" and "Content-Length" in headers:
        raw.headers["Content-Length"] = headers["Content-Length"]
    raw.url = request.url
    if isinstance(request, RestRequest):
        from azure.core.rest._requests_basic import RestRequestsTransportResponse

        resp = RestRequestsTransportResponse(request=request, internal_response=raw)
        resp.read()
        return resp
    from azure.core.pipeline.transport import RequestsTransportResponse

    return RequestsTransportResponse(request, raw)


def fake_backend(outcome: str = "completed", strict: bool = True, **options: Any) -> Any:
    """An :class:`~automl_bridge.backends.azure.AzureBackend` over a fresh :class:`FakeAzureML`
    whose job ends as ``outcome`` (``"completed"``, ``"failed"`` with the reason "the data has
    no rows left", or ``"running"``): the backend contract's ``make(outcome, strict)``."""
    script = {"completed": ("NotStarted", "Running", "Completed"),
              "failed": ("Running", "Failed"), "running": ("Running",)}[outcome]
    fake = FakeAzureML(script=script, failure_message="the data has no rows left")
    return fake.backend(strict=strict, **options)
