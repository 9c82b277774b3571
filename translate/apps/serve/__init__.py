"""Serving a model over HTTP: ``translate serve MODEL`` (see ``docs/serving.md``).

One concept per module:

- :mod:`~translate.apps.serve.limits`: request and image limits, batching settings, the request error;
- :mod:`~translate.apps.serve.decode`: request bodies (raw or multipart) to images, safely; PNG answers;
- :mod:`~translate.apps.serve.batching`: the queue and worker that batch concurrent requests;
- :mod:`~translate.apps.serve.service`: the loaded model as a service (also what ``translate demo`` runs);
- :mod:`~translate.apps.serve.metrics`: what the server counts, as ``GET /metrics`` shows it (Prometheus text);
- :mod:`~translate.apps.serve.http`: the standard-library HTTP server and its endpoints;
(the ``translate serve`` command is :mod:`translate.commands.serve`).

Example::

    from translate.apps.serve import ModelService, make_server

    server = make_server(ModelService("runs/shapes/export"), "127.0.0.1", 0)
    print(server.url)
    server.serve_forever()
"""

from __future__ import annotations

from .batching import Batcher, BatchStats
from .decode import decode_image, encode_png, read_upload
from .http import ENDPOINTS, TranslateServer, make_server
from .limits import Limits, RequestError
from .metrics import ServerMetrics
from .service import ModelService, model_label

__all__ = [
    "ENDPOINTS",
    "BatchStats",
    "Batcher",
    "Limits",
    "ModelService",
    "RequestError",
    "ServerMetrics",
    "TranslateServer",
    "decode_image",
    "encode_png",
    "make_server",
    "model_label",
    "read_upload",
]
