"""A fake Vertex AI (and GCS) served over HTTP to the real SDK, for offline tests.

:class:`FakeVertex` intercepts the ``requests`` calls of google-cloud-aiplatform's REST
transport and of google-cloud-storage with :mod:`responses` and answers them from memory, so the
real SDK serialises every request and parses every response: datasets (done at once), training
pipelines that walk through a scripted list of states (one step per GET), cancel
(CANCELLING, then CANCELLED), models with one evaluation, batch prediction jobs that write CSV
output to the fake bucket, and label filters. It records created and cancelled pipelines, can
inject HTTP errors (429, 503, 403, ...) and can raise KeyboardInterrupt at the k-th HTTP call,
before or after the service acted on it.

Use it with the adapter's injected options (``FakeVertex.options()``: anonymous credentials,
the REST transport, no sleeping between retries). Needs the ``responses`` package.

Example:
    >>> fake = FakeVertex(script=("PIPELINE_STATE_RUNNING", "PIPELINE_STATE_SUCCEEDED"))
    >>> fake.next_state("PIPELINE_STATE_PENDING", 0)
    'PIPELINE_STATE_RUNNING'
    >>> fake.parent
    'projects/test-project/locations/us-central1'
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

SUCCEEDED = ("PIPELINE_STATE_PENDING", "PIPELINE_STATE_RUNNING", "PIPELINE_STATE_SUCCEEDED")
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
           503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_TERMINAL = ("PIPELINE_STATE_SUCCEEDED", "PIPELINE_STATE_FAILED", "PIPELINE_STATE_CANCELLED",
             "PIPELINE_STATE_PAUSED")


class FakeVertex:
    """In-memory Vertex AI AutoML Tabular + GCS for one project and location.

    Args:
        project / location: what the adapter is configured with.
        script: pipeline states after creation, one per GET (the last repeats). A
            ``PIPELINE_STATE_FAILED`` step sets ``error`` to ``failure``.
        failure: ``(code, message)`` of a failed pipeline.
        metrics: the evaluation's metrics (default: by prediction type).
        train_cost_milli_node_hours: reported in ``trainingTaskMetadata`` (``None``: omitted).
        interrupt_at: the k-th HTTP call (1-based) raises KeyboardInterrupt.
        interrupt_after: raise it after the fake acted on that call (the response is lost).
        cancel_polls: GETs that still show CANCELLING after a cancel request.
    """

    def __init__(self, *, project: str = "test-project", location: str = "us-central1",
                 script: tuple[str, ...] = SUCCEEDED,
                 failure: tuple[int, str] = (3, "Training failed: bad input column"),
                 metrics: dict[str, Any] | None = None,
                 train_cost_milli_node_hours: int | None = 870,
                 interrupt_at: int | None = None, interrupt_after: bool = False,
                 cancel_polls: int = 1) -> None:
        self.project, self.location = project, location
        self.script, self.failure, self.metrics = tuple(script), failure, metrics
        self.train_cost = train_cost_milli_node_hours
        self.interrupt_at, self.interrupt_after = interrupt_at, interrupt_after
        self.cancel_polls = cancel_polls
        self._cancelling: dict[str, int] = {}
        self.blobs: dict[tuple[str, str], bytes] = {}
        self.datasets: dict[str, dict[str, Any]] = {}
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.evaluations: dict[str, list[dict[str, Any]]] = {}
        self.batch_jobs: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []
        self.cancel_requests: list[str] = []
        self.calls: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, str, Any]] = []
        self._faults: list[list[Any]] = []
        self._steps: dict[str, int] = {}
        self._next_id = 100

    # --- set-up --------------------------------------------------------------------------------

    @property
    def parent(self) -> str:
        """``projects/P/locations/L``."""
        return f"projects/{self.project}/locations/{self.location}"

    def options(self) -> dict[str, Any]:
        """Adapter options that point the real SDK at this fake."""
        from google.auth.credentials import AnonymousCredentials

        return {"project": self.project, "location": self.location,
                "credentials": AnonymousCredentials(), "api_transport": "rest",
                "retry_sleep": lambda s: None}

    def fail(self, method: str, path: str, status: int, message: str = "", times: int = 1,
             after: bool = False) -> None:
        """The next ``times`` calls of ``method`` whose URL contains ``path`` get ``status``
        (``after=True``: the fake acts on the request first, as when a response is lost)."""
        self._faults.append([method.upper(), path, status, message or f"fake {status}", times,
                             after])

    @contextlib.contextmanager
    def serve(self) -> Iterator[Any]:
        """Intercept HTTP while the block runs (yields the ``responses`` mock)."""
        with _intercept(self._handle) as mock:
            yield mock

    # --- dispatch ------------------------------------------------------------------------------

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str | bytes]:
        url = urlparse(request.url)
        if url.netloc == "storage.googleapis.com" and re.match(r"^/storage/v1/b/[^/]+$", url.path):
            # bucket metadata, fetched by google-cloud-storage in a background thread for
            # tracing: not part of the adapter's sequence (no interrupts, no faults, no count)
            return _ok({"name": url.path.rsplit("/", 1)[-1], "location": "US-CENTRAL1"})
        self.calls.append((request.method, url.path))
        k = len(self.calls)
        if self.interrupt_at == k and not self.interrupt_after:
            raise KeyboardInterrupt(f"fake interrupt at HTTP call {k}")
        for fault in self._faults:
            if fault[4] > 0 and fault[0] == request.method and fault[1] in request.url:
                fault[4] -= 1
                if fault[5]:
                    self._route(request, url)
                return _error(fault[2], fault[3])
        out = self._route(request, url)
        if self.interrupt_at == k:
            raise KeyboardInterrupt(f"fake interrupt after HTTP call {k}")
        return out

    def _route(self, request: Any, url: Any) -> tuple[int, dict[str, str], str | bytes]:
        path, query = url.path, parse_qs(url.query)
        body = json.loads(request.body) if request.body and url.netloc.endswith(
            "aiplatform.googleapis.com") else None
        if body is not None:
            self.bodies.append((request.method, path, body))
        if url.netloc == "storage.googleapis.com":
            return self._storage(request, path, query)
        base = f"/v1/{self.parent}/"
        if not path.startswith(base):
            return _error(404, f"unknown resource {path}")
        rest = path[len(base):]
        m = request.method
        if rest == "datasets":
            return self._list(self.datasets, query, "datasets") if m == "GET" else \
                self._create_dataset(body or {})
        if rest == "trainingPipelines":
            return self._list(self.pipelines, query, "trainingPipelines") if m == "GET" else \
                self._create_pipeline(body or {})
        if rest == "batchPredictionJobs":
            return self._list(self.batch_jobs, query, "batchPredictionJobs") if m == "GET" \
                else self._create_batch(body or {})
        name = f"{self.parent}/{rest}"
        if rest.startswith("trainingPipelines/"):
            return self._pipeline(m, name)
        if rest.startswith("batchPredictionJobs/"):
            return self._batch(m, name)
        if rest.startswith("models/") and rest.endswith("/evaluations"):
            model = name[: -len("/evaluations")]
            return _ok({"modelEvaluations": self.evaluations.get(model, [])})
        return _error(404, f"unknown resource {path}")

    # --- GCS -----------------------------------------------------------------------------------

    def _storage(self, request: Any, path: str, query: dict[str, list[str]]
                 ) -> tuple[int, dict[str, str], str | bytes]:
        m = re.match(r"^/upload/storage/v1/b/([^/]+)/o$", path)
        if m and request.method == "POST":
            raw = request.body if isinstance(request.body, bytes) else request.body.read()
            ctype = request.headers.get("content-type", "")
            ctype = ctype if isinstance(ctype, bytes) else ctype.encode()
            msg = message_from_bytes(b"Content-Type: " + ctype + b"\r\n\r\n" + raw)
            parts: list[bytes] = [bytes(p.get_payload(decode=True))
                                  for p in msg.walk() if not p.is_multipart()]
            meta = json.loads(parts[0])
            self.blobs[(m.group(1), meta["name"])] = parts[1]
            return _ok({"bucket": m.group(1), "name": meta["name"], "generation": "1",
                        "size": str(len(parts[1]))})
        m = re.match(r"^/storage/v1/b/([^/]+)/o$", path)
        if m:
            prefix = query.get("prefix", [""])[0]
            return _ok({"items": [{"bucket": b, "name": n} for (b, n) in sorted(self.blobs)
                                  if b == m.group(1) and n.startswith(prefix)]})
        m = re.match(r"^/download/storage/v1/b/([^/]+)/o/(.+)$", path)
        if m:
            key = (m.group(1), unquote(m.group(2)))
            if key not in self.blobs:
                return _error(404, f"No such object: {key[0]}/{key[1]}")
            return 200, {"Content-Type": "text/csv"}, self.blobs[key]
        m = re.match(r"^/storage/v1/b/([^/]+)$", path)
        if m:
            return _ok({"name": m.group(1)})
        return _error(404, f"unknown storage resource {path}")

    # --- datasets ------------------------------------------------------------------------------

    def _id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _create_dataset(self, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        name = f"{self.parent}/datasets/{self._id()}"
        dataset = {**body, "name": name, "createTime": "2026-01-01T00:00:00Z"}
        self.datasets[name] = dataset
        return _ok({"name": f"{name}/operations/1", "done": True, "response": {
            "@type": "type.googleapis.com/google.cloud.aiplatform.v1.Dataset", **dataset}})

    def _list(self, store: dict[str, dict[str, Any]], query: dict[str, list[str]], key: str
              ) -> tuple[int, dict[str, str], str]:
        wanted = dict(re.findall(r'labels\.([\w-]+)\s*=\s*"([^"]*)"',
                                 query.get("filter", [""])[0]))
        items = [r for r in store.values()
                 if all((r.get("labels") or {}).get(k) == v for k, v in wanted.items())]
        return _ok({key: items})

    # --- training pipelines --------------------------------------------------------------------

    def _create_pipeline(self, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        name = f"{self.parent}/trainingPipelines/{self._id()}"
        pipeline = {**body, "name": name, "state": "PIPELINE_STATE_PENDING",
                    "createTime": "2026-01-01T00:00:00Z"}
        self.pipelines[name] = pipeline
        self.created.append(name)
        self._steps[name] = 0
        return _ok(pipeline)

    def next_state(self, state: str, step: int) -> str:
        """The state a pipeline in ``state`` moves to at its ``step``-th GET."""
        if state == "PIPELINE_STATE_CANCELLING":
            return "PIPELINE_STATE_CANCELLED"
        if state in _TERMINAL:
            return state
        return self.script[min(step, len(self.script) - 1)]

    def _pipeline(self, method: str, name: str) -> tuple[int, dict[str, str], str]:
        if name.endswith(":cancel"):
            name = name[: -len(":cancel")]
            if name not in self.pipelines:
                return _error(404, f"TrainingPipeline {name} not found")
            p = self.pipelines[name]
            self.cancel_requests.append(name)
            if p["state"] in _TERMINAL:
                return _error(400, f"Cannot cancel TrainingPipeline {name} in state "
                                   f"{p['state']}", "FAILED_PRECONDITION")
            p["state"] = "PIPELINE_STATE_CANCELLING"
            self._cancelling[name] = self.cancel_polls
            return _ok({})
        if name not in self.pipelines:
            return _error(404, f"TrainingPipeline {name} not found")
        p = self.pipelines[name]
        if method == "GET":
            before = p["state"]
            if before == "PIPELINE_STATE_CANCELLING" and self._cancelling.get(name, 0) > 0:
                self._cancelling[name] -= 1
                return _ok(p)
            p["state"] = self.next_state(before, self._steps[name])
            self._steps[name] += 1
            if p["state"] != before:
                self._entered(p)
        return _ok(p)

    def _entered(self, p: dict[str, Any]) -> None:
        state = p["state"]
        if state == "PIPELINE_STATE_RUNNING":
            p["startTime"] = "2026-01-01T00:01:00Z"
        if state in _TERMINAL:
            p.setdefault("startTime", "2026-01-01T00:01:00Z")
            p["endTime"] = "2026-01-01T00:43:00Z"
        if state == "PIPELINE_STATE_FAILED":
            p["error"] = {"code": self.failure[0], "message": self.failure[1]}
        if state == "PIPELINE_STATE_CANCELLED":
            p["error"] = {"code": 1, "message": "CANCELED"}
        if state == "PIPELINE_STATE_SUCCEEDED":
            model_id = self._id()
            model = f"{self.parent}/models/{model_id}"
            p["modelToUpload"] = {**p.get("modelToUpload", {}), "name": model}
            p["modelId"] = model_id
            if self.train_cost is not None:
                p["trainingTaskMetadata"] = {"trainCostMilliNodeHours": str(self.train_cost)}
            kind = (p.get("trainingTaskInputs") or {}).get("predictionType", "classification")
            self.evaluations[model] = [{
                "name": f"{model}/evaluations/1", "createTime": "2026-01-01T00:43:00Z",
                "metricsSchemaUri": "gs://google-cloud-aiplatform/schema/modelevaluation/"
                                    f"{kind}_metrics_1.0.0.yaml",
                "metrics": self.metrics if self.metrics is not None else _metrics(kind)}]

    # --- batch prediction ----------------------------------------------------------------------

    def _create_batch(self, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        name = f"{self.parent}/batchPredictionJobs/{self._id()}"
        job = {**body, "name": name, "state": "JOB_STATE_PENDING",
               "createTime": "2026-01-01T01:00:00Z"}
        self.batch_jobs[name] = job
        return _ok(job)

    def _batch(self, method: str, name: str) -> tuple[int, dict[str, str], str]:
        if name.endswith(":cancel"):
            job = self.batch_jobs.get(name[: -len(":cancel")])
            if job is None:
                return _error(404, f"BatchPredictionJob {name} not found")
            job["state"] = "JOB_STATE_CANCELLED"
            return _ok({})
        job = self.batch_jobs.get(name)
        if job is None:
            return _error(404, f"BatchPredictionJob {name} not found")
        if method == "GET" and job["state"] == "JOB_STATE_PENDING":
            job["state"] = "JOB_STATE_RUNNING"
        elif method == "GET" and job["state"] == "JOB_STATE_RUNNING":
            self._predict(job)
        return _ok(job)

    def _predict(self, job: dict[str, Any]) -> None:
        """Write the predictions CSV: input columns plus ``predicted_<target>`` (the majority
        class with its score, or the mean), in reverse row order as Vertex may reorder."""
        pipeline = next(p for p in self.pipelines.values()
                        if (p.get("modelToUpload") or {}).get("name") == job["model"])
        inputs = pipeline["trainingTaskInputs"]
        target = inputs["targetColumn"]
        train = next(csv.DictReader(io.StringIO(v.decode())) for (b, n), v in self.blobs.items()
                     if n.endswith("/train.csv"))
        values = [r[target] for r in train]
        src = job["inputConfig"]["gcsSource"]["uris"][0][len("gs://"):].split("/", 1)
        rows = list(csv.DictReader(io.StringIO(self.blobs[(src[0], src[1])].decode())))
        if inputs["predictionType"] == "regression":
            mean = sum(float(v) for v in values) / len(values)
            pred: Any = json.dumps({"value": mean})
        else:
            classes = sorted(set(values))
            top = max(classes, key=values.count)
            pred = json.dumps({"classes": classes,
                               "scores": [0.9 if c == top else 0.1 / max(1, len(classes) - 1)
                                          for c in classes]})
        out = io.StringIO()
        fields = [*(rows[0].keys() if rows else []), f"predicted_{target}"]
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        for r in reversed(rows):
            writer.writerow({**r, f"predicted_{target}": pred})
        dest = job["outputConfig"]["gcsDestination"]["outputUriPrefix"][len("gs://"):]
        bucket, _, prefix = dest.partition("/")
        folder = f"{prefix.rstrip('/')}/prediction-model-2026_01_01T01_00_00"
        self.blobs[(bucket, f"{folder}/predictions_00001.csv")] = out.getvalue().encode()
        job["state"] = "JOB_STATE_SUCCEEDED"
        job["outputInfo"] = {"gcsOutputDirectory": f"gs://{bucket}/{folder}"}


#: Pipeline scripts for the backend contract's outcomes.
OUTCOMES = {"completed": SUCCEEDED,
            "failed": ("PIPELINE_STATE_RUNNING", "PIPELINE_STATE_FAILED"),
            "running": ("PIPELINE_STATE_RUNNING",)}


class FakeVertexHub:
    """Several :class:`FakeVertex` services behind one HTTP interception, each with its own
    project and bucket, so several backends can live at once (the backend contract's
    ``make(outcome, strict)`` is :meth:`backend`).

    Example:
        >>> hub = FakeVertexHub()
        >>> fake, bucket = hub.new(script=OUTCOMES["running"])
        >>> fake.project, bucket
        ('fake-project-1', 'fake-bucket-1')
    """

    def __init__(self) -> None:
        self.fakes: list[FakeVertex] = []
        self._by_bucket: dict[str, FakeVertex] = {}

    def new(self, **fake_options: Any) -> tuple[FakeVertex, str]:
        """A new fake and the name of its bucket."""
        n = len(self.fakes) + 1
        fake = FakeVertex(project=f"fake-project-{n}", **fake_options)
        self.fakes.append(fake)
        self._by_bucket[f"fake-bucket-{n}"] = fake
        return fake, f"fake-bucket-{n}"

    def backend(self, outcome: str = "completed", strict: bool = True, **options: Any) -> Any:
        """A :class:`~automl_bridge.backends.vertex.VertexBackend` over a new fake whose
        pipelines end as ``outcome`` (``"completed"``, ``"failed"``, ``"running"``); the fake
        is ``backend.fake``. Polling does not sleep. ``options`` may hold fake options
        (``interrupt_at``, ``failure``, ``metrics``, ...) and backend options."""
        from automl_bridge.backends.vertex import VertexBackend

        fake_keys = {"script", "failure", "metrics", "train_cost_milli_node_hours",
                     "interrupt_at", "interrupt_after", "cancel_polls"}
        fake, bucket = self.new(script=OUTCOMES[outcome],
                                **{k: v for k, v in options.items() if k in fake_keys})
        rest = {"sleep": lambda s: None, **fake.options(), "staging_bucket": f"gs://{bucket}",
                **{k: v for k, v in options.items() if k not in fake_keys}}
        backend = VertexBackend(strict=strict, **rest)
        backend.fake = fake  # type: ignore[attr-defined]
        return backend

    @contextlib.contextmanager
    def serve(self) -> Iterator[Any]:
        """Intercept HTTP for every fake of the hub while the block runs."""
        with _intercept(self._handle) as mock:
            yield mock

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str | bytes]:
        path = urlparse(request.url).path
        m = re.search(r"/projects/([^/]+)/", path)
        for fake in self.fakes:
            if m and m.group(1) == fake.project:
                return fake._handle(request)
        m = re.search(r"/b/([^/]+)", path)
        if m and m.group(1) in self._by_bucket:
            return self._by_bucket[m.group(1)]._handle(request)
        return _error(404, f"no fake serves {path}")


@contextlib.contextmanager
def _intercept(handle: Any) -> Iterator[Any]:
    """Every HTTPS request goes to ``handle`` while the block runs (a ``responses`` mock)."""
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "POST", "PUT", "DELETE"):
            mock.add_callback(method, re.compile(r"https://.*"), callback=handle)
        yield mock


def _metrics(kind: str) -> dict[str, Any]:
    if kind == "regression":
        return {"rootMeanSquaredError": 1.5, "meanAbsoluteError": 1.1, "rSquared": 0.8,
                "meanAbsolutePercentageError": 12.5, "rootMeanSquaredLogError": 0.2}
    return {"auRoc": 0.93, "auPrc": 0.9, "logLoss": 0.31,
            "confidenceMetrics": [{"confidenceThreshold": 0.5, "recall": 0.8,
                                   "precision": 0.85}],
            "confusionMatrix": {"annotationSpecs": [{"displayName": "a"}, {"displayName": "b"}],
                                "rows": [[40, 10], [5, 45]]}}


def _ok(payload: Any) -> tuple[int, dict[str, str], str]:
    return 200, {"Content-Type": "application/json"}, json.dumps(payload)


def _error(code: int, message: str, status: str | None = None
           ) -> tuple[int, dict[str, str], str]:
    return code, {"Content-Type": "application/json"}, json.dumps(
        {"error": {"code": code, "message": message,
                   "status": status or _STATUS.get(code, "UNKNOWN")}})
